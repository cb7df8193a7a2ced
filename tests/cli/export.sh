#!/usr/bin/env bash
# `yolite export` checked by other runtimes:
#  1. bad options and bad weights: exit status 1, one line naming the problem, no file written
#     (also when the output cannot be placed: no partial or temporary file is left);
#  2. --include pt / safetensors: the exported .pt read back by yolite gives a bit-identical
#     forward pass; where Debian's python3-torch is installed, torch.load(weights_only=True)
#     reads it and every tensor equals the fixture's state dict (skipped with a message where
#     it is absent); where python3-onnx is installed, onnx.checker (full_check) accepts every
#     exported .onnx;
#  3. ONNX Runtime (onnxruntime-node from npm, installed into NPM_DIR when missing): yolov5n and
#     yolov5s (the parity fixtures, exported from their .pt) at batch 1, and --dynamic at batch 3
#     and at 256x384, opsets 12 and 17, against `yolite forward` on the same inputs: scores within
#     1e-4, boxes within 1e-3 px + 3e-4 relative (tests/onnx/ort_tool.cjs says why relative);
#     the shipped base model exported with --nms, run by examples/onnx/detect.cjs, finds the same
#     boxes as `yolite detect` (same class, IoU > 0.99), and so does the example's own NMS on the
#     export without --nms.
# usage: export.sh YOLITE_BINARY SHARED_DIR WORK_DIR SOURCE_DIR NPM_DIR
set -euo pipefail
Y="$1"; SHARED="$2"; WORK="$3"; SRC="$4"; NPM_DIR="$5"
FIX="$SHARED/fixtures"
TOOL="$SRC/tests/onnx/ort_tool.cjs"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
for f in yolov5n_nc5_seed0.pt yolov5s_nc5_seed0.pt yolov5n_nc5_seed0_state.npz; do
  [ -f "$FIX/$f" ] || fail "missing fixture $FIX/$f"
done

# ---- 1. errors -------------------------------------------------------------------------------
mkdir e
cp "$FIX/yolov5n_nc5_seed0.pt" e/n.pt
head -c 200000 "$FIX/yolov5n_nc5_seed0.pt" > e/truncated.pt
expect_error() {  # pattern, then the export arguments
  local pat="$1"; shift
  local rc=0
  "$Y" export "$@" > e.out 2> e.err || rc=$?
  [ "$rc" = 1 ] || fail "yolite export $* exited with $rc, expected 1 ($(cat e.err))"
  [ "$(wc -l < e.err)" = 1 ] || fail "yolite export $*: expected one line, got: $(cat e.err)"
  grep -q -- "$pat" e.err || fail "yolite export $*: expected '$pat' in: $(cat e.err)"
  echo "ok: $(cat e.err)"
}
expect_error "unknown format" --weights e/n.pt --include tflite
expect_error "opset 11: not supported (supported: 12 to 17)" --weights e/n.pt --opset 11
expect_error "opset 18: not supported" --weights e/n.pt --opset 18
expect_error "batch 0" --weights e/n.pt --batch 0
expect_error "missing.pt' not found" --weights e/missing.pt
expect_error "truncated.pt" --weights e/truncated.pt --out e/out_truncated
mkdir -p e/out/n.onnx   # the output name is taken by a folder: the rename fails
expect_error "n.onnx" --weights e/n.pt --out e/out
[ "$(cd e && find . -mindepth 1 | sort | tr '\n' ' ')" = "./n.pt ./out ./out/n.onnx ./truncated.pt " ] ||
  fail "a failed export left files behind: $(cd e && find . -mindepth 1 | sort | tr '\n' ' ')"

# ---- 2. PyTorch and safetensors --------------------------------------------------------------
"$Y" export --weights e/n.pt --include pt safetensors --out pt
[ -f pt/n_yolov5.pt ] && [ -f pt/n.safetensors ] || fail "pt/safetensors exports missing"

HAVE_NODE=0
if command -v node > /dev/null && command -v npm > /dev/null; then HAVE_NODE=1; fi
if [ "$HAVE_NODE" = 1 ]; then
  export NODE_PATH="$NPM_DIR/node_modules"
  if ! node -e "require('onnxruntime-node'); require('jpeg-js'); require('pngjs')" 2> /dev/null; then
    echo "installing onnxruntime-node, jpeg-js and pngjs from npm into $NPM_DIR"
    mkdir -p "$NPM_DIR"
    (cd "$NPM_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
       onnxruntime-node@1.30.0 jpeg-js@0.4.4 pngjs@7.0.0) || fail "npm install failed"
  fi
  node "$TOOL" input x1.npy 1 320 320 1
  node "$TOOL" input x3.npy 3 320 320 2
  node "$TOOL" input xr.npy 2 256 384 3
else
  fail "node and npm are needed (scripts/test.sh installs Debian's nodejs and npm when node is missing)"
fi

"$Y" forward --weights e/n.pt --input x1.npy --output y_n.npy -q
"$Y" forward --weights pt/n_yolov5.pt --input x1.npy --output y_n_pt.npy -q
cmp -s y_n.npy y_n_pt.npy || fail "the exported .pt read back gives a different forward pass"
echo "ok: exported .pt read back by yolite: bit-identical forward pass"

PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c "import torch, numpy" 2> /dev/null; then
  "$PY" - "$FIX/yolov5n_nc5_seed0_state.npz" pt/n_yolov5.pt <<'EOF' || fail "torch.load check"
import sys, numpy as np, torch, yaml
ref = np.load(sys.argv[1])
ck = torch.load(sys.argv[2], map_location="cpu", weights_only=True)
sd = ck["model"]
assert list(sd.keys()) == list(ref.keys()), "keys differ from YOLOv5's state_dict()"
for k, v in sd.items():
    r = ref[k]
    assert tuple(v.shape) == r.shape, (k, tuple(v.shape), r.shape)
    assert np.array_equal(v.numpy().astype(r.dtype), r), k
y = yaml.safe_load(ck["yaml"])
assert y["nc"] == 5 and y["depth_multiple"] == 0.33 and y["width_multiple"] == 0.25, y
assert len(y["backbone"]) == 10 and len(y["head"]) == 15
assert ck["names"] == {i: str(i) for i in range(5)} and ck["stride"] == [8, 16, 32], (ck["names"], ck["stride"])
print(f"ok: torch {torch.__version__} torch.load(weights_only=True): {len(sd)} tensors equal to "
      "YOLOv5's state_dict(); the yaml parses (PyYAML)")
EOF
else
  echo "SKIP: torch.load check (Debian's python3-torch is not installed)"
fi

# ---- 3. ONNX Runtime -------------------------------------------------------------------------
for s in n s; do
  cp "$FIX/yolov5${s}_nc5_seed0.pt" "$s.pt"
  "$Y" export --weights "$s.pt" --img 320 --out static > /dev/null
  "$Y" export --weights "$s.pt" --dynamic --out dynamic > /dev/null
  for x in x1 x3 xr; do
    model=dynamic/$s.onnx
    [ "$x" = x1 ] && model=static/$s.onnx
    node "$TOOL" run "$model" "$x.npy" "ort_${s}_$x" > /dev/null
    "$Y" forward --weights "$s.pt" --input "$x.npy" --output "y_${s}_$x.npy" -q
    echo -n "yolov5$s $model $x: "
    node "$TOOL" compare "ort_${s}_$x/output0.npy" "y_${s}_$x.npy" || fail "yolov5$s $model on $x"
  done
done
"$Y" export --weights n.pt --img 320 --opset 12 --out opset12 > /dev/null
node "$TOOL" run opset12/n.onnx x1.npy ort_opset12 > /dev/null
echo -n "yolov5n opset 12: "
node "$TOOL" compare ort_opset12/output0.npy y_n_x1.npy || fail "opset 12"

# detections: the base model on rendered 320x320 images, re-encoded as PNG so that both sides
# decode the same pixels (JPEG decoders differ by a grey level here and there)
BASE="$SRC/models/yolite_base_n.pt"
"$Y" synth --out synth --per-class 3 --sizes 320 --seed 5 --classes all --mixed --no-test-image --threads 1 > synth.log 2>&1
mkdir png
for f in synth/images_raw/*.jpg; do node "$TOOL" png "$f" "png/$(basename "$f" .jpg).png"; done
"$Y" export --weights "$BASE" --img 320 --nms --out nms > /dev/null
"$Y" export --weights "$BASE" --img 320 --out plain > /dev/null
"$Y" detect --weights "$BASE" --source png --img 320 --save-txt --save-conf --project det --name yolite --exist-ok > detect.log
node "$SRC/examples/onnx/detect.cjs" nms/yolite_base_n.onnx png/*.png --save-txt ort_nms > ort_nms.log
node "$SRC/examples/onnx/detect.cjs" plain/yolite_base_n.onnx png/*.png --save-txt ort_plain > ort_plain.log
echo -n "--nms export vs yolite detect: "
node "$TOOL" labels det/yolite/labels ort_nms 10 || fail "--nms detections differ from yolite detect"
echo -n "example NMS vs yolite detect: "
node "$TOOL" labels det/yolite/labels ort_plain 10 || fail "the example's detections differ from yolite detect"

if [ -x "$PY" ] && "$PY" -c "import onnx" 2> /dev/null; then
  "$PY" - static/n.onnx static/s.onnx dynamic/s.onnx opset12/n.onnx nms/yolite_base_n.onnx <<'EOF' || fail "onnx.checker"
import sys, onnx
for f in sys.argv[1:]:
    onnx.checker.check_model(onnx.load(f), full_check=True)
print(f"ok: onnx {onnx.__version__} checker (full_check) accepts {len(sys.argv) - 1} exported models")
EOF
else
  echo "SKIP: onnx.checker (Debian's python3-onnx is not installed)"
fi
echo "export: all checks passed"
