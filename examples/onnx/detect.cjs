// examples/onnx/detect.cjs -- run a model exported by `yolite export --include onnx` with ONNX
// Runtime in Node.js: the same detections as `yolite detect`, without yolite.
//
//   cd examples/onnx && npm install --ignore-scripts     # onnxruntime-node, jpeg-js, pngjs
//   node detect.cjs best.onnx photo.jpg [more.jpg ...] [--conf 0.25] [--iou 0.45]
//                   [--max-det 300] [--img 640] [--save-txt DIR]
//
// What it does, step by step, as yolite detect (and YOLOv5's detect.py) do:
//   1. decode the image (JPEG or PNG) to RGB;
//   2. letterbox: scale by r = min(H/h, W/w) (bilinear), pad with grey 114 to the model's input
//      size -- a fixed-size model's own H x W; a --dynamic model: --img, padded only to a
//      multiple of 32 (detect.py's rectangular inference);
//   3. RGB 0..1, channels first, one batch: the "images" input;
//   4. run; a model exported with --nms returns "detections" [K, 7] (image, x1, y1, x2, y2,
//      score, class); otherwise "output0" [1, N, 5+nc] goes through NMS here (YOLOv5's rule:
//      score = objectness * best class probability > conf, greedy per class, IoU > iou drops);
//   5. map the boxes back to the original image and clip.
// Class names come from the model's metadata ("names", written by yolite export).
// --save-txt DIR writes DIR/<image stem>.txt: "class cx cy w h score" per line, normalised, as
// `yolite detect --save-txt --save-conf`.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

// ---- command line ----
function parseArgs(argv) {
  const o = {conf: 0.25, iou: 0.45, maxDet: 300, img: 640, saveTxt: '', files: []};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(a + ' needs a number');
      return v;
    };
    if (a === '--conf') o.conf = num();
    else if (a === '--iou') o.iou = num();
    else if (a === '--max-det') o.maxDet = num();
    else if (a === '--img') o.img = num();
    else if (a === '--save-txt') o.saveTxt = argv[++i];
    else if (a.startsWith('--')) throw new Error('unknown option ' + a);
    else o.files.push(a);
  }
  if (o.files.length < 2) throw new Error('usage: node detect.cjs MODEL.onnx IMAGE... [--conf 0.25] [--iou 0.45] [--max-det 300] [--img 640] [--save-txt DIR]');
  o.model = o.files.shift();
  return o;
}

// ---- the class names in the model's metadata_props (ONNX ModelProto field 14) ----
// A few lines of protobuf reading: varint keys, skip what is not needed.
function readMetadata(file) {
  const b = fs.readFileSync(file);
  let p = 0;
  const varint = () => {
    let v = 0, mul = 1, byte;
    do { byte = b[p++]; v += (byte & 0x7f) * mul; mul *= 128; } while (byte & 0x80);
    return v;
  };
  const meta = {};
  while (p < b.length) {
    const key = varint(), field = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) { varint(); continue; }
    if (wire === 5) { p += 4; continue; }
    if (wire === 1) { p += 8; continue; }
    const len = varint(), end = p + len;
    if (field === 14) {  // StringStringEntryProto {key = 1, value = 2}
      let k = '', v = '';
      while (p < end) {
        const kk = varint(), n = varint(), s = b.toString('utf8', p, p + n);
        p += n;
        if ((kk >> 3) === 1) k = s; else v = s;
      }
      meta[k] = v;
    }
    p = end;
  }
  return meta;
}
// "{0: 'bottle', 1: 'can'}" (a Python dict literal, as YOLOv5 writes it) -> ['bottle', 'can']
function parseNames(s) {
  const names = [];
  if (!s) return names;
  const re = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  let m;
  while ((m = re.exec(s))) names[Number(m[1])] = (m[2] !== undefined ? m[2] : m[3]).replace(/\\(.)/g, '$1');
  return names;
}

// ---- images ----
function decodeImage(file) {
  const buf = fs.readFileSync(file);
  let rgba;
  if (buf[0] === 0xff && buf[1] === 0xd8) rgba = require('jpeg-js').decode(buf, {useTArray: true, formatAsRGBA: true});
  else if (buf.toString('latin1', 1, 4) === 'PNG') rgba = require('pngjs').PNG.sync.read(buf);
  else throw new Error(file + ': not a JPEG or PNG image');
  const {width: w, height: h} = rgba;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; ++i) for (let c = 0; c < 3; ++c) rgb[i * 3 + c] = rgba.data[i * 4 + c];
  return {w, h, rgb};
}
// Bilinear resize with pixel centres aligned (cv2.INTER_LINEAR), RGB bytes.
function resize(img, nw, nh) {
  if (nw === img.w && nh === img.h) return img;
  const out = new Uint8Array(nw * nh * 3);
  const sx = img.w / nw, sy = img.h / nh;
  for (let y = 0; y < nh; ++y) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), img.h - 1), y1 = Math.min(y0 + 1, img.h - 1), wy = fy - y0;
    for (let x = 0; x < nw; ++x) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), img.w - 1), x1 = Math.min(x0 + 1, img.w - 1), wx = fx - x0;
      for (let c = 0; c < 3; ++c) {
        const a = img.rgb[(y0 * img.w + x0) * 3 + c], b = img.rgb[(y0 * img.w + x1) * 3 + c];
        const d = img.rgb[(y1 * img.w + x0) * 3 + c], e = img.rgb[(y1 * img.w + x1) * 3 + c];
        out[(y * nw + x) * 3 + c] = Math.round((a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy);
      }
    }
  }
  return {w: nw, h: nh, rgb: out};
}
// Letterbox to H x W (auto: pad only to a multiple of 32). Returns the input tensor data and
// the placement (offsets, per-axis scale) to map boxes back.
function letterbox(img, H, W, auto) {
  const r = Math.min(H / img.h, W / img.w);
  const nw = Math.round(img.w * r), nh = Math.round(img.h * r);
  let dw = W - nw, dh = H - nh;
  if (auto) { dw %= 32; dh %= 32; W = nw + dw; H = nh + dh; }
  const left = Math.round(dw / 2 - 0.1), top = Math.round(dh / 2 - 0.1);
  const content = resize(img, nw, nh);
  const plane = H * W, x = new Float32Array(3 * plane).fill(114 / 255);
  for (let y = 0; y < nh; ++y)
    for (let xx = 0; xx < nw; ++xx)
      for (let c = 0; c < 3; ++c) x[c * plane + (y + top) * W + xx + left] = content.rgb[(y * nw + xx) * 3 + c] / 255;
  return {data: x, H, W, left, top, sx: nw / img.w, sy: nh / img.h};
}

// ---- NMS over output0 rows (when the model has no "detections" output) ----
function iou(a, b) {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-7);
}
function nms(y, rows, no, o) {
  const cand = [];
  for (let i = 0; i < rows; ++i) {
    const r = y.subarray(i * no, (i + 1) * no);
    if (!(r[4] > o.conf)) continue;
    let best = 0, cls = 0;
    for (let c = 5; c < no; ++c) if (r[c] * r[4] > best) { best = r[c] * r[4]; cls = c - 5; }
    if (!(best > o.conf)) continue;
    cand.push({box: [r[0] - r[2] / 2, r[1] - r[3] / 2, r[0] + r[2] / 2, r[1] + r[3] / 2], score: best, cls});
  }
  cand.sort((a, b) => b.score - a.score);
  const keep = [];
  for (const d of cand) {
    if (keep.length >= o.maxDet) break;
    if (keep.every(k => k.cls !== d.cls || iou(k.box, d.box) <= o.iou)) keep.push(d);
  }
  return keep;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const names = parseNames(readMetadata(o.model).names);
  const session = await ort.InferenceSession.create(o.model);
  const shape = session.inputMetadata[0].shape;  // [1, 3, H, W] or named dims when dynamic
  const fixed = Number.isInteger(shape[2]) && Number.isInteger(shape[3]);
  const hasNms = session.outputNames.includes('detections');
  if (o.saveTxt) fs.mkdirSync(o.saveTxt, {recursive: true});
  for (const [k, file] of o.files.entries()) {
    const img = decodeImage(file);
    const lb = fixed ? letterbox(img, shape[2], shape[3], false) : letterbox(img, o.img, o.img, true);
    const t0 = process.hrtime.bigint();
    const out = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', lb.data, [1, 3, lb.H, lb.W])});
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    let dets;
    if (hasNms) {
      const d = out.detections.data, K = Number(out.detections.dims[0]);
      dets = [];
      for (let i = 0; i < K; ++i)
        dets.push({box: [d[i * 7 + 1], d[i * 7 + 2], d[i * 7 + 3], d[i * 7 + 4]], score: d[i * 7 + 5], cls: d[i * 7 + 6]});
    } else {
      const y = out.output0;
      dets = nms(y.data, Number(y.dims[1]), Number(y.dims[2]), o);
    }
    const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
    for (const d of dets) {
      const [x1, y1, x2, y2] = d.box;
      d.box = [clip((x1 - lb.left) / lb.sx, img.w), clip((y1 - lb.top) / lb.sy, img.h),
               clip((x2 - lb.left) / lb.sx, img.w), clip((y2 - lb.top) / lb.sy, img.h)];
    }
    console.log('image ' + (k + 1) + '/' + o.files.length + ' ' + file + ': ' + img.w + 'x' + img.h + ' ' +
                dets.length + ' detections, ' + ms.toFixed(1) + ' ms');
    let txt = '';
    for (const d of dets) {
      const [x1, y1, x2, y2] = d.box;
      console.log('  ' + (names[d.cls] || d.cls) + ' ' + d.score.toFixed(2) + ' [' + d.box.map(v => v.toFixed(1)).join(' ') + ']');
      const g = v => Number(v.toPrecision(6));
      txt += [d.cls, g((x1 + x2) / 2 / img.w), g((y1 + y2) / 2 / img.h), g((x2 - x1) / img.w), g((y2 - y1) / img.h), g(d.score)].join(' ') + '\n';
    }
    if (o.saveTxt) fs.writeFileSync(path.join(o.saveTxt, path.parse(file).name + '.txt'), txt);
  }
}

main().catch(e => {
  console.error('detect.cjs: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
