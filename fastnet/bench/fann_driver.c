/* Per-sample (incremental) training with FANN's float library.
 * usage: fann_driver TRAIN EPOCHS LEARNING_RATE N_LAYERS SIZE... [TEST]
 * TRAIN, TEST: int32 n, n_in, n_out, then per sample n_in inputs and n_out
 * targets as float32.  Prints one line per epoch: the training seconds
 * (shuffle + fann_train_epoch) and the test accuracy (-1 without TEST). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <floatfann.h>

static struct fann_train_data *read_data(const char *path)
{
    int header[3];
    unsigned int i;
    struct fann_train_data *data;
    FILE *file = fopen(path, "rb");
    if (file == NULL || fread(header, sizeof(int), 3, file) != 3) exit(2);
    data = fann_create_train(header[0], header[1], header[2]);
    for (i = 0; i < data->num_data; i++) {
        if (fread(data->input[i], sizeof(fann_type), data->num_input, file)
                != data->num_input
            || fread(data->output[i], sizeof(fann_type), data->num_output, file)
                != data->num_output)
            exit(2);
    }
    fclose(file);
    return data;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static unsigned int argmax(const fann_type *values, unsigned int n)
{
    unsigned int i, best = 0;
    for (i = 1; i < n; i++) if (values[i] > values[best]) best = i;
    return best;
}

static double accuracy(struct fann *ann, struct fann_train_data *test)
{
    unsigned int i, correct = 0;
    for (i = 0; i < test->num_data; i++)
        correct += argmax(fann_run(ann, test->input[i]), test->num_output)
                   == argmax(test->output[i], test->num_output);
    return (double)correct / test->num_data;
}

int main(int argc, char **argv)
{
    unsigned int layers[16], i, n_layers;
    int epoch, epochs;
    struct fann *ann;
    struct fann_train_data *train, *test = NULL;
    double start, seconds;

    if (argc < 6) return 2;
    epochs = atoi(argv[2]);
    n_layers = atoi(argv[4]);
    if (n_layers > 16 || argc < 5 + (int)n_layers) return 2;
    for (i = 0; i < n_layers; i++) layers[i] = atoi(argv[5 + i]);
    train = read_data(argv[1]);
    if (argc > 5 + (int)n_layers) test = read_data(argv[5 + n_layers]);

    ann = fann_create_standard_array(n_layers, layers);
    srand(0); /* reproducible weights, FANN's default range */
    fann_randomize_weights(ann, -0.1f, 0.1f);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_learning_rate(ann, (float)atof(argv[3]));

    for (epoch = 0; epoch < epochs; epoch++) {
        start = now();
        fann_shuffle_train_data(train);
        fann_train_epoch(ann, train);
        seconds = now() - start;
        printf("%.9f %.6f\n", seconds, test ? accuracy(ann, test) : -1.0);
        fflush(stdout);
    }
    return 0;
}
