// io/video.hpp -- video files, cameras and network streams in, annotated video out, through
// FFmpeg's libraries (libavformat, libavcodec, libswscale, libavdevice). Optional: the CMake
// target yolite::video (found automatically; -DYOLITE_VIDEO=OFF to leave it out) links them and
// defines YOLITE_HAVE_VIDEO. The rest of the library never needs this header.
//
//   yolite::VideoSource src("clip.mp4");          // or "0", "/dev/video0", "rtsp://...", "http://..."
//   yolite::Image frame;
//   while (src.read(frame)) {                     // RGB frames, in order; false at the end
//     auto dets = detector.detect(frame);
//     ...
//   }
//   src.frame_index();  src.info().fps;  src.info().frames;   // frames: 0 when unknown (streams)
//
//   yolite::VideoWriter out("out.mp4", width, height, fps);   // H.264 when FFmpeg has libx264,
//   out.write(frame);                             // MPEG-4 Part 2 else
//   out.finish();                                 // renamed into place only now
//
// A source that cannot be opened, a stream that stops answering (rw_timeout, 10 s by default)
// or a file whose data is damaged is a yolite::Error naming it; read() returns false at the
// normal end. VideoWriter writes to a temporary name beside the target and renames it in
// finish(): destroyed without finish() (an error on the way), it leaves nothing behind.
#pragma once
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "../data/image_io.hpp"  // data::is_video_source
#include "file.hpp"

namespace yolite {

namespace video_detail {
inline std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}
inline bool is_device(const std::string& s) {
  if (s.rfind("/dev/video", 0) == 0) return true;
  if (s.empty() || s.size() > 3) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}
}  // namespace video_detail

struct VideoInfo {
  int width = 0, height = 0;
  double fps = 0;        // frames per second (the stream's, or a guess from its timing)
  int fps_num = 0, fps_den = 1;
  int64_t frames = 0;    // as the container states it; 0 when unknown (streams, cameras)
  std::string codec;     // decoder name
  bool live = false;     // a camera or network stream
};

class VideoSource {
 public:
  explicit VideoSource(std::string source, int timeout_s = 10) : src_(std::move(source)) {
    avdevice_register_all();
    const AVInputFormat* ifmt = nullptr;
    std::string url = src_;
    AVDictionary* opts = nullptr;
    if (video_detail::is_device(src_)) {
      ifmt = av_find_input_format("video4linux2");
      YOLITE_CHECK(ifmt, src_, ": this FFmpeg has no video4linux2 input for cameras");
      if (src_.rfind("/dev/", 0) != 0) url = "/dev/video" + src_;
      info_.live = true;
    } else if (src_.find("://") != std::string::npos) {
      av_dict_set(&opts, "rw_timeout", std::to_string(int64_t(timeout_s) * 1000000).c_str(), 0);
      if (src_.rfind("rtsp://", 0) == 0) av_dict_set(&opts, "rtsp_transport", "tcp", 0);
      info_.live = true;
    } else {
      YOLITE_CHECK(std::filesystem::is_regular_file(src_), src_, ": no such video file");
    }
    int rc = avformat_open_input(&fmt_, url.c_str(), ifmt, &opts);
    av_dict_free(&opts);
    if (rc < 0) {
      fmt_ = nullptr;
      fail(src_, ": cannot open the video (", video_detail::av_error(rc), ")");
    }
    rc = avformat_find_stream_info(fmt_, nullptr);
    if (rc < 0) fail_and_close("cannot read the stream information (" + video_detail::av_error(rc) + ")");
    const AVCodec* codec = nullptr;
    stream_ = av_find_best_stream(fmt_, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream_ < 0 || !codec) fail_and_close("no video stream that FFmpeg can decode");
    AVStream* st = fmt_->streams[stream_];
    dec_ = avcodec_alloc_context3(codec);
    if (!dec_ || avcodec_parameters_to_context(dec_, st->codecpar) < 0) fail_and_close("cannot set up the decoder");
    dec_->thread_count = 1;  // frames in order, the same pixels on every run
    rc = avcodec_open2(dec_, codec, nullptr);
    if (rc < 0) fail_and_close("cannot open the " + std::string(codec->name) + " decoder (" + video_detail::av_error(rc) + ")");
    info_.width = dec_->width;
    info_.height = dec_->height;
    const AVRational fr = av_guess_frame_rate(fmt_, st, nullptr);
    info_.fps_num = fr.num > 0 ? fr.num : 30;
    info_.fps_den = fr.num > 0 ? fr.den : 1;
    info_.fps = double(info_.fps_num) / double(info_.fps_den);
    info_.frames = st->nb_frames;
    info_.codec = codec->name;
    YOLITE_CHECK(info_.width > 0 && info_.height > 0, src_, ": the video has no frame size");
    pkt_ = av_packet_alloc();
    frame_ = av_frame_alloc();
  }
  VideoSource(const VideoSource&) = delete;
  VideoSource& operator=(const VideoSource&) = delete;
  ~VideoSource() { close(); }

  const VideoInfo& info() const { return info_; }
  const std::string& source() const { return src_; }
  int64_t frame_index() const { return frames_read_; }  // frames returned so far

  // The next frame as 8-bit RGB; false at the end of the video (or when a stream ends).
  bool read(Image& out) {
    for (;;) {
      int rc = avcodec_receive_frame(dec_, frame_);
      if (rc == 0) {
        convert(out);
        ++frames_read_;
        return true;
      }
      if (rc == AVERROR_EOF) {
        if (!info_.live && info_.frames > 0 && frames_read_ < info_.frames)
          fail(src_, ": the video ends after ", frames_read_, " of the ", info_.frames,
               " frames its header announces (truncated?)");
        return false;
      }
      if (rc != AVERROR(EAGAIN)) fail(src_, ": cannot decode frame ", frames_read_ + 1, " (", video_detail::av_error(rc), ")");
      if (draining_) return false;
      rc = av_read_frame(fmt_, pkt_);
      if (rc < 0 && rc != AVERROR_EOF && !info_.live)
        fail(src_, ": cannot read the video after ", frames_read_, " frames (", video_detail::av_error(rc), ")");
      if (rc < 0) {  // the end of a file, or of a stream (then with its reason)
        if (rc != AVERROR_EOF) ended_ = video_detail::av_error(rc);
        draining_ = true;
        avcodec_send_packet(dec_, nullptr);
        continue;
      }
      if (pkt_->stream_index == stream_) {
        rc = avcodec_send_packet(dec_, pkt_);
        if (rc < 0 && rc != AVERROR(EAGAIN)) {
          av_packet_unref(pkt_);
          fail(src_, ": damaged video data after ", frames_read_, " frames (", video_detail::av_error(rc), ")");
        }
      }
      av_packet_unref(pkt_);
    }
  }
  // Why a live stream ended, when it ended with an error rather than a clean end ("" otherwise).
  const std::string& end_reason() const { return ended_; }

 private:
  [[noreturn]] void fail_and_close(const std::string& why) {
    close();
    fail(src_, ": ", why);
  }
  void close() {
    if (sws_) sws_freeContext(sws_), sws_ = nullptr;
    if (frame_) av_frame_free(&frame_);
    if (pkt_) av_packet_free(&pkt_);
    if (dec_) avcodec_free_context(&dec_);
    if (fmt_) avformat_close_input(&fmt_);
  }
  void convert(Image& out) {
    const int w = frame_->width, h = frame_->height;
    sws_ = sws_getCachedContext(sws_, w, h, AVPixelFormat(frame_->format), w, h, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr);
    YOLITE_CHECK(sws_, src_, ": cannot convert frames of pixel format ", frame_->format, " to RGB");
    if (out.w != w || out.h != h || out.c != 3) out = Image(w, h, 3);
    uint8_t* dst[4] = {out.px.data(), nullptr, nullptr, nullptr};
    int stride[4] = {w * 3, 0, 0, 0};
    sws_scale(sws_, frame_->data, frame_->linesize, 0, h, dst, stride);
  }

  std::string src_;
  VideoInfo info_;
  AVFormatContext* fmt_ = nullptr;
  AVCodecContext* dec_ = nullptr;
  AVPacket* pkt_ = nullptr;
  AVFrame* frame_ = nullptr;
  SwsContext* sws_ = nullptr;
  int stream_ = -1;
  int64_t frames_read_ = 0;
  bool draining_ = false;
  std::string ended_;
};

class VideoWriter {
 public:
  // An H.264 (libx264, CRF 23) or MPEG-4 Part 2 video in the container the file extension names
  // (.mp4 by default), yuv420p, at fps_num/fps_den frames per second. Odd sizes are rounded
  // down to even ones (4:2:0 needs them).
  VideoWriter(std::string path, int width, int height, int fps_num, int fps_den = 1)
      : path_(std::move(path)), w_(width & ~1), h_(height & ~1) {
    YOLITE_CHECK(w_ >= 2 && h_ >= 2, path_, ": frame size ", width, "x", height, " is too small for a video");
    YOLITE_CHECK(fps_num > 0 && fps_den > 0, path_, ": bad frame rate ", fps_num, "/", fps_den);
    namespace fs = std::filesystem;
    fs::path p(path_);
    std::error_code ec;
    if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
    const std::string ext = p.extension().string().empty() ? ".mp4" : p.extension().string();
    tmp_ = (p.parent_path() / ("." + p.stem().string() + ".tmp." + std::to_string(::getpid()) + ext)).string();
    int rc = avformat_alloc_output_context2(&oc_, nullptr, nullptr, tmp_.c_str());
    if (rc < 0 || !oc_) fail_and_close("no container for extension '" + ext + "'");
    // libx264 by name: the first H.264 encoder registered may be a hardware one (nvenc, vaapi)
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) fail_and_close("this FFmpeg has neither an H.264 nor an MPEG-4 encoder");
    enc_ = avcodec_alloc_context3(codec);
    enc_->width = w_;
    enc_->height = h_;
    enc_->time_base = AVRational{fps_den, fps_num};
    enc_->framerate = AVRational{fps_num, fps_den};
    enc_->pix_fmt = AV_PIX_FMT_YUV420P;
    enc_->gop_size = 12;
    enc_->thread_count = 1;
    if (codec->id == AV_CODEC_ID_H264) {
      av_opt_set(enc_->priv_data, "crf", "23", 0);
      av_opt_set(enc_->priv_data, "preset", "veryfast", 0);
    } else {
      enc_->flags |= AV_CODEC_FLAG_QSCALE;
      enc_->global_quality = FF_QP2LAMBDA * 4;
    }
    if (oc_->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    rc = avcodec_open2(enc_, codec, nullptr);
    if (rc < 0) fail_and_close("cannot open the " + std::string(codec->name) + " encoder (" + video_detail::av_error(rc) + ")");
    st_ = avformat_new_stream(oc_, nullptr);
    avcodec_parameters_from_context(st_->codecpar, enc_);
    st_->time_base = enc_->time_base;
    st_->avg_frame_rate = enc_->framerate;
    rc = avio_open(&oc_->pb, tmp_.c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) fail_and_close("cannot create the file (" + video_detail::av_error(rc) + ")");
    rc = avformat_write_header(oc_, nullptr);
    if (rc < 0) fail_and_close("cannot write the header (" + video_detail::av_error(rc) + ")");
    frame_ = av_frame_alloc();
    frame_->format = enc_->pix_fmt;
    frame_->width = w_;
    frame_->height = h_;
    av_frame_get_buffer(frame_, 0);
    pkt_ = av_packet_alloc();
    codec_name_ = codec->name;
  }
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;
  ~VideoWriter() {
    close();
    if (!done_) {
      std::error_code ec;
      std::filesystem::remove(tmp_, ec);
    }
  }

  void write(const Image& rgb) {
    YOLITE_CHECK(!done_, path_, ": write after finish");
    YOLITE_CHECK(rgb.c == 3 && (rgb.w & ~1) == w_ && (rgb.h & ~1) == h_, path_, ": frame ", rgb.w, "x", rgb.h, "x", rgb.c,
                 " does not match the video's ", w_, "x", h_, " RGB");
    sws_ = sws_getCachedContext(sws_, w_, h_, AV_PIX_FMT_RGB24, w_, h_, AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND,
                                nullptr, nullptr, nullptr);
    YOLITE_CHECK(av_frame_make_writable(frame_) >= 0, path_, ": cannot prepare a frame");
    const uint8_t* src[4] = {rgb.px.data(), nullptr, nullptr, nullptr};
    int stride[4] = {rgb.w * 3, 0, 0, 0};
    sws_scale(sws_, src, stride, 0, h_, frame_->data, frame_->linesize);
    frame_->pts = n_++;
    encode(frame_);
  }

  // Flushes the encoder, writes the trailer and renames the file into place.
  void finish() {
    YOLITE_CHECK(!done_, path_, ": finish called twice");
    encode(nullptr);
    int rc = av_write_trailer(oc_);
    if (rc < 0) fail(path_, ": cannot finish the video (", video_detail::av_error(rc), ")");
    close();
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
      std::filesystem::remove(tmp_, ec);
      fail(path_, ": cannot rename the finished video into place");
    }
    done_ = true;
  }
  int64_t frames() const { return n_; }
  const std::string& codec() const { return codec_name_; }

 private:
  [[noreturn]] void fail_and_close(const std::string& why) {
    close();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
    fail(path_, ": ", why);
  }
  void encode(AVFrame* f) {
    int rc = avcodec_send_frame(enc_, f);
    if (rc < 0) fail(path_, ": cannot encode frame ", n_, " (", video_detail::av_error(rc), ")");
    for (;;) {
      rc = avcodec_receive_packet(enc_, pkt_);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) fail(path_, ": cannot encode (", video_detail::av_error(rc), ")");
      av_packet_rescale_ts(pkt_, enc_->time_base, st_->time_base);
      pkt_->stream_index = st_->index;
      rc = av_interleaved_write_frame(oc_, pkt_);
      if (rc < 0) fail(path_, ": cannot write (", video_detail::av_error(rc), ")");
    }
  }
  void close() {
    if (sws_) sws_freeContext(sws_), sws_ = nullptr;
    if (frame_) av_frame_free(&frame_);
    if (pkt_) av_packet_free(&pkt_);
    if (enc_) avcodec_free_context(&enc_);
    if (oc_) {
      if (oc_->pb) avio_closep(&oc_->pb);
      avformat_free_context(oc_);
      oc_ = nullptr;
    }
  }

  std::string path_, tmp_, codec_name_;
  int w_, h_;
  AVFormatContext* oc_ = nullptr;
  AVCodecContext* enc_ = nullptr;
  AVStream* st_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* pkt_ = nullptr;
  SwsContext* sws_ = nullptr;
  int64_t n_ = 0;
  bool done_ = false;
};

}  // namespace yolite
