// Times ONNX Runtime (onnxruntime-node) on out/tsm_w1.onnx: one stream, one
// frame per call, the ten shift caches fed back as inputs. Prints one JSON line.
//
//   node ort_bench.js [--frames 60] [--threads 2]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

async function main() {
  const frames = arg('frames', 60);
  const threads = arg('threads', 2);
  const out = path.join(__dirname, 'out');
  const session = await ort.InferenceSession.create(path.join(out, 'tsm_w1.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const size = 224;
  const plane = 3 * size * size;
  const caches = {};
  const zeroCaches = () => {
    for (const name of session.inputNames) {
      if (name === 'frame') continue;
      const meta = session.inputMetadata ? session.inputMetadata.find?.((m) => m.name === name) : null;
      caches[name] = null;
    }
  };
  zeroCaches();
  // Cache shapes come from the model: run a first frame with shapes taken from
  // the exported graph's outputs (same as inputs).
  const shapes = JSON.parse(fs.readFileSync(path.join(out, 'cache_shapes.json'), 'utf8'));
  const reset = () => {
    shapes.forEach((s, i) => {
      caches['cache' + i] = new ort.Tensor('float32', new Float32Array(s.reduce((a, b) => a * b, 1)), s);
    });
  };
  const step = async (data) => {
    const feeds = { frame: new ort.Tensor('float32', data, [1, 3, size, size]), ...caches };
    const res = await session.run(feeds);
    shapes.forEach((_, i) => { caches['cache' + i] = res['cache' + i + '_out']; });
    return res.logits.data;
  };

  // Check: PyTorch's logits for three frames, cache carried.
  reset();
  const buf = fs.readFileSync(path.join(out, 'check_frames.f32'));
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const want = JSON.parse(fs.readFileSync(path.join(out, 'check_logits.json'), 'utf8'));
  let worst = 0;
  for (let f = 0; f < want.length; f++) {
    const got = await step(all.slice(f * plane, (f + 1) * plane));
    let num = 0, den = 0;
    want[f].forEach((w, i) => { num = Math.max(num, Math.abs(got[i] - w)); den = Math.max(den, Math.abs(w)); });
    worst = Math.max(worst, num / den);
    if (process.env.DEBUG) console.error("frame", f, num / den, got.slice(0, 3), want[f].slice(0, 3));
  }

  // Timing: random frames, cache carried, 5 warm-up frames.
  const inputs = [0, 1, 2, 3].map(() => Float32Array.from({ length: plane }, () => Math.random() * 2 - 1));
  reset();
  for (let i = 0; i < 5; i++) await step(inputs[i % 4]);
  const lat = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < frames; i++) {
    const s = process.hrtime.bigint();
    await step(inputs[i % 4]);
    lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const total = Number(process.hrtime.bigint() - t0) / 1e9;
  const sorted = [...lat].sort((a, b) => a - b);
  const pct = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * sorted.length) - 1))];
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version,
    threads, frames, median_ms: pct(0.5), p90_ms: pct(0.9), min_ms: sorted[0], fps: frames / total,
    check_rel_err: worst,
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
