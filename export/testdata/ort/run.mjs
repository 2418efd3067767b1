// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) on inputs
// read from a binary file, for package export's tests:
//
//	node run.mjs [--float-qdq] MODEL IN OUT TYPE DIM...
//
// IN holds one tensor of element type TYPE (float32 or int8) and shape
// DIM... (batch first), little-endian, row-major; the model's only input
// gets it. OUT receives the model's only output the same way, and stdout
// a line of JSON naming its element type and shape. The session runs on
// one thread with ONNX Runtime's default graph optimizations (all), as an
// application would load the model. --float-qdq sets the session option
// session.disable_quant_qdq, so that a QDQ model runs as its graph says
// (DequantizeLinear, the float operator, QuantizeLinear) instead of through
// the fused integer kernels (QLinearConv, …), whose x86 AVX2 code without
// VNNI adds pairs of uint8 × int8 products in saturating 16-bit arithmetic
// (VPMADDUBSW) and so can be far off for int8 weights near ±127.
import { readFileSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const floatQDQ = args[0] === '--float-qdq';
if (floatQDQ) args.shift();
const [model, inFile, outFile, type, ...dimArgs] = args;
if (!model || !inFile || !outFile || !type || dimArgs.length === 0) {
  console.error('usage: node run.mjs [--float-qdq] MODEL IN OUT TYPE DIM...');
  process.exit(2);
}
const dims = dimArgs.map(Number);
const arrays = { float32: Float32Array, int8: Int8Array };
const Arr = arrays[type];
if (!Arr) {
  console.error(`run.mjs: element type ${type}: want float32 or int8`);
  process.exit(2);
}
const buf = readFileSync(inFile);
const data = new Arr(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: floatQDQ ? { session: { disable_quant_qdq: '1' } } : {},
});
const feeds = { [session.inputNames[0]]: new ort.Tensor(type, data, dims) };
const results = await session.run(feeds);
const out = results[session.outputNames[0]];
const bytes = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
writeFileSync(outFile, bytes);
console.log(JSON.stringify({ name: session.outputNames[0], type: out.type, dims: out.dims }));
