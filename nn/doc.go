// Package nn trains and runs the tiny 1-D CNNs that splitnas searches.
//
// A network (an arch.Network of Conv, ConvTranspose and Dense layers, ReLU
// after every hidden layer) becomes a Model with NewModel: its weights are
// drawn He-uniform (Glorot-uniform for the last layer) from a seed and its
// biases are zero. Native returns the Engine that trains it: softmax
// cross-entropy, Adam (β₁ 0.9, β₂ 0.999, ε 1e-7), mini-batches over a fresh
// random order every epoch, optional inverted dropout after the hidden
// layers, and the weights of the best validation epoch kept. Evaluate
// scores a model on a dataset (accuracy, balanced accuracy, macro-F1 and
// per-class sensitivity and positive predictivity, AAMI EC57 style); Save
// and Load store it in a versioned, checksummed file.
//
// Config adds a training recipe, every part off by default: for
// imbalanced data a class-weighted loss or a class-balanced sampler
// (ClassBalance, weights from the training data only) and selection of the
// best epoch by balanced accuracy (Select); a learning-rate schedule with
// linear warm-up, stepped per batch (Schedule, WarmupEpochs,
// Config.LearningRate); AdamW's decoupled weight decay of the weights, not
// the biases (WeightDecay); augmentation of the training samples — never
// of validation or test data — by circular time shift, amplitude scale,
// baseline wander and Gaussian noise (Augment*); and knowledge
// distillation from a teacher's soft targets (Teacher, Alpha), computed
// once by TeacherTargets on the un-augmented training data; batch
// normalisation after every hidden convolution (BatchNorm), which exists
// only in training: the model Train returns has it folded into the
// convolutions' weights and biases, so it is the plain network, of the
// same size and cost on the edge; and a fixed number of samples per epoch
// (SamplesPerEpoch), class-balanced with the sampler, so that an epoch
// costs the same however large the training data.
//
// The engine is written for speed on small networks: plain Go loops over
// one sample at a time (with batch normalisation, whose statistics need
// the whole batch, one layer at a time across the batch's samples),
// blocked so that independent sums overlap and free of data-dependent
// branches; gonum's BLAS for the Dense layer, where it is
// 3× faster; every buffer allocated before the first batch; the dataset
// read in place, never copied. A training run uses one goroutine and shares
// no state, so runs on different goroutines scale with the cores.
//
// Training is deterministic: the same network, data, configuration and
// seed give bit-identical weights, augmentation and sampling included (on
// a given architecture: ones where the compiler fuses multiply-adds, such
// as arm64, round differently).
//
// The layer kernels are generic over float32 and float64, so the tests
// check the float32 engine's own code against finite differences in
// float64.
package nn
