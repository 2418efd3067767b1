// Package calib measures layer latency on an emulated Cortex-M4, so that the
// energy model's latency surrogate (hw.LatencyModel) can be fitted and its
// per-layer tables (hw.LayerTable) measured without a board.
//
// It holds the layer kernels (Conv1D, transposed Conv1D, Dense; c/, embedded)
// that package export ships: float32 plain C99 loops, and int8 and int4
// (packed weights unpacked on the fly) in the deployed scheme of package
// quant — zero points, per-channel double-rounding requantization, bit-exact
// with quant's integer reference — written with the Cortex-M4 DSP
// extension's SIMD multiply-accumulates (ACLE intrinsics, a plain-C model of
// them on other targets); channel-major tensors as in package nn. For each
// layer shape it generates an image that calls them, cross-compiles it into a
// bare-metal image with arm-none-eabi-gcc (-mcpu=cortex-m4 -mthumb
// -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2, its own vector table, startup and
// linker script, no libc), and runs the image under qemu-system-arm -M
// mps2-an386 with semihosting. A small TCG plugin (c/plugin/count.c, built
// with the host C compiler) counts the instructions executed between two
// marker functions, per instruction class, and the events the cycle model
// needs: registers moved by multiple loads and stores, control transfers,
// pipelined loads, address-dependency stalls and reads of (emulated) flash
// with the misses of a simulated ART data cache.
//
// One image runs many layers: before each, it fills the layer's weights (in
// the flash region) and input (in SRAM) with deterministic pseudo-random
// data, then calls marker_begin, the kernel, and marker_end. Every image
// first runs an empty marker pair, whose counts (the markers' own
// instructions) are subtracted from every layer's.
//
// Counts become clock cycles with a CycleTable: per-class cycles from the
// Cortex-M4 Technical Reference Manual plus flash wait states at the
// device's clock (CortexM4). Measure runs images in parallel and returns
// one Result per layer, which WriteCSV writes in the format
// hw.ReadMeasurements reads; MeasureNetwork emulates a whole edge partition
// in one image for checking the fitted surrogate against.
//
// Conv1D and Dense layers whose weights are stored sparse (only the
// non-zero ones, with their input offsets and each row's count: the format
// in c/splitnas_kernels.h) run on the sparse kernels, generated into a
// source of their own (SparseKernels: the dense kernels' source, and the
// layout they were measured with, stay as they are), equal to the dense
// kernels with the missing weights 0 — byte for byte in int8 and int4.
// MeasureSparse measures them as Measure measures dense layers.
//
// The tools come from Debian packages: gcc-arm-none-eabi, qemu-system-arm
// and gcc (for the plugin). FindTools says which are missing.
package calib
