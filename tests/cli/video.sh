#!/usr/bin/env bash
# `yolite detect` on video, checked with Debian's ffmpeg/ffprobe:
#  1. 12 rendered frames are made into a lossless video (FFV1, RGB, 10 frames/s); detect on it
#     writes an annotated NAME.mp4 with 12 frames at 10 frames/s (ffprobe) and labels whose text
#     equals `yolite detect` on the same frames extracted as PNG images by ffmpeg;
#  2. --vid-stride 3 detects frames 1, 4, 7, 10 only;
#  3. an H.264 .mp4 cut in half, and a file that is not a video, each give exit status 1 with one
#     line naming the file, and leave no video and no labels behind;
#  4. the clip served over HTTP on loopback (python3 -m http.server) gives the same labels as the
#     file; an address where nothing answers is one line naming it;
#  5. the streaming example (examples/video/detect_video.cpp) runs on the clip.
# usage: video.sh YOLITE_BINARY WORK_DIR SOURCE_DIR EXAMPLE_BINARY
set -euo pipefail
Y="$1"; WORK="$2"; SRC="$3"; EX="$4"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
command -v ffmpeg > /dev/null && command -v ffprobe > /dev/null || fail "ffmpeg and ffprobe are needed"
PY="$(command -v python3 || true)"
[ -n "$PY" ] || fail "python3 is needed (its http.server serves the stream)"
W="$SRC/models/yolite_base_n.pt"

"$Y" synth --out synth --per-class 3 --sizes 320 --max-objects 2 --seed 9 --mixed --no-test-image --threads 1 > synth.log 2>&1
ls synth/images_raw/*.jpg | head -n 12 > list.txt
i=0; mkdir frames_in
while read -r f; do cp "$f" "frames_in/$(printf %03d $i).jpg"; i=$((i + 1)); done < list.txt
ffmpeg -v error -framerate 10 -i frames_in/%03d.jpg -c:v ffv1 -pix_fmt bgr0 clip.mkv
ffmpeg -v error -framerate 10 -i frames_in/%03d.jpg -c:v libx264 -pix_fmt yuv420p clip264.mp4

frames_of() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
rate_of() { ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 "$1"; }

# 1. the whole clip
"$Y" detect --source clip.mkv --weights "$W" --img 320 --save-txt --save-conf --project det --name video --exist-ok > video.log
[ -f det/video/clip.mp4 ] || fail "no det/video/clip.mp4"
n="$(frames_of det/video/clip.mp4)"; r="$(rate_of det/video/clip.mp4)"
[ "$n" = 12 ] || fail "the annotated video has $n frames, expected 12"
[ "$r" = "10/1" ] || fail "the annotated video runs at $r frames/s, expected 10/1"
echo "ok: annotated video: $n frames at $r frames/s ($(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 det/video/clip.mp4))"
mkdir frames_out
ffmpeg -v error -i clip.mkv frames_out/%d.png
"$Y" detect --source frames_out --weights "$W" --img 320 --save-txt --save-conf --project det --name frames --exist-ok > frames.log
total=0
for k in $(seq 1 12); do
  [ -f "det/video/labels/clip_$k.txt" ] || fail "no labels for frame $k"
  cmp -s "det/video/labels/clip_$k.txt" "det/frames/labels/$k.txt" ||
    fail "frame $k: video labels differ from the image's: $(cat det/video/labels/clip_$k.txt) vs $(cat det/frames/labels/$k.txt)"
  total=$((total + $(wc -l < "det/video/labels/clip_$k.txt")))
done
[ "$total" -ge 5 ] || fail "only $total detections in 12 frames: the comparison means little"
echo "ok: labels of 12 frames ($total detections) equal detect on the frames as images"
grep -q "frames/s" video.log || fail "no frames/s in the progress lines"

# 2. --vid-stride
"$Y" detect --source clip.mkv --weights "$W" --img 320 --save-txt --vid-stride 3 --project det --name stride --exist-ok > stride.log
[ "$(ls det/stride/labels | sort -V | tr '\n' ' ')" = "clip_1.txt clip_4.txt clip_7.txt clip_10.txt " ] ||
  fail "--vid-stride 3 labelled $(ls det/stride/labels | tr '\n' ' ')"
[ "$(frames_of det/stride/clip.mp4)" = 4 ] || fail "--vid-stride 3: the video should have 4 frames"
echo "ok: --vid-stride 3 detects frames 1, 4, 7, 10"

# 3. damaged input
expect_error() {  # name, source
  local rc=0
  "$Y" detect --source "$2" --weights "$W" --img 320 --save-txt --project det --name "$1" --exist-ok > "$1.out" 2> "$1.err" || rc=$?
  [ "$rc" = 1 ] || fail "$2: exit status $rc, expected 1"
  [ "$(wc -l < "$1.err")" = 1 ] && grep -q "$2" "$1.err" || fail "$2: expected one line naming the file, got: $(cat "$1.err")"
  if [ -d "det/$1" ] && [ -n "$(find "det/$1" -type f)" ]; then fail "$2: files left behind: $(find "det/$1" -type f)"; fi
  echo "ok: $(cat "$1.err")"
}
head -c "$(( $(stat -c %s clip264.mp4) / 2 ))" clip264.mp4 > cut.mp4
expect_error cut cut.mp4
echo "not a video" > text.mp4
expect_error text text.mp4
expect_error missing missing.mkv

# 4. a network stream: the same clip served over HTTP on loopback gives the same labels; a
#    server that is not there is one line naming the address
PORT=$(( 20000 + $$ % 20000 ))
"$PY" -m http.server "$PORT" --bind 127.0.0.1 > http.log 2>&1 &
HTTP_PID=$!
trap 'kill $HTTP_PID 2> /dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break; sleep 0.1; done
"$Y" detect --source "http://127.0.0.1:$PORT/clip.mkv" --weights "$W" --img 320 --save-txt --save-conf --nosave \
  --project det --name http --exist-ok > http_detect.log
for k in $(seq 1 12); do
  cmp -s "det/video/labels/clip_$k.txt" "det/http/labels/clip_$k.txt" || fail "frame $k over HTTP differs from the file's"
done
echo "ok: over HTTP: the same labels for all 12 frames"
kill $HTTP_PID 2> /dev/null || true
wait $HTTP_PID 2> /dev/null || true
expect_error dead "http://127.0.0.1:$PORT/clip.mkv"

# 5. the streaming API example
"$EX" "$W" clip.mkv example.mp4 > example.log
[ "$(frames_of example.mp4)" = 12 ] || fail "the example wrote $(frames_of example.mp4) frames"
echo "ok: examples/video/detect_video.cpp: 12 frames"
echo "video: all checks passed"
