// Times ONNX Runtime (onnxruntime-node) on out/resnet50_tsm.onnx: one 8×3×224×224 clip
// per call (ResNet-50 TSM, offline). Prints one JSON line.
//
//   node offline_ort.js [--clips 3] [--threads 2]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

async function main() {
  const clips = arg('clips', 3);
  const threads = arg('threads', 2);
  const out = path.join(__dirname, 'out');
  const session = await ort.InferenceSession.create(path.join(out, 'resnet50_tsm.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const shape = [8, 3, 224, 224];
  const buf = fs.readFileSync(path.join(out, 'offline_check_frames.f32'));
  const check = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const want = JSON.parse(fs.readFileSync(path.join(out, 'offline_check_logits.json'), 'utf8'));
  const run = async (data) => (await session.run({ frames: new ort.Tensor('float32', data, shape) })).logits.data;

  const got = await run(check); // also the warm-up
  let num = 0, den = 0;
  want.forEach((w, i) => { num = Math.max(num, Math.abs(got[i] - w)); den = Math.max(den, Math.abs(w)); });

  const lat = [];
  for (let i = 0; i < clips; i++) {
    const s = process.hrtime.bigint();
    await run(check);
    lat.push(Number(process.hrtime.bigint() - s) / 1e9);
  }
  const sorted = [...lat].sort((a, b) => a - b);
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version,
    threads, clips, median_s_per_clip: sorted[Math.floor((sorted.length - 1) / 2)], min_s_per_clip: sorted[0],
    check_rel_err: num / den,
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
