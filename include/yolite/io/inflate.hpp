// io/inflate.hpp -- DEFLATE decompression (RFC 1951), for zip members written with
// compression (numpy.savez_compressed, zip tools, data set exports).
//
//   std::string out(expected_size, '\0');
//   io::inflate(compressed.data(), compressed.size(), out.data(), out.size(), "a.npz: x.npy");
//
// A plain, readable decoder in the style of zlib's "puff": a bit reader, canonical Huffman
// tables built from code lengths, and the three block types (stored, fixed, dynamic), plus one
// speed-up: codes of up to 9 bits (nearly all of them) are decoded with a 512-entry lookup
// table instead of bit by bit (decode_slow is the reference path for longer codes). The
// output size must be known in advance (zip stores it) and must come out exactly: a stream
// that would write past it, reads past its input, uses an invalid code or refers back before
// the start of the output throws yolite::Error naming `what` -- it never overruns a buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "../core/error.hpp"

namespace yolite::io {

namespace detail {

class Inflater {
 public:
  Inflater(const unsigned char* in, size_t in_len, unsigned char* out, size_t out_len, const std::string& what)
      : in_(in), in_len_(in_len), out_(out), out_len_(out_len), what_(what) {}

  void run() {
    int last;
    do {
      last = int(bits(1));
      int type = int(bits(2));
      if (type == 0) stored();
      else if (type == 1) fixed();
      else if (type == 2) dynamic();
      else bad("invalid block type 3");
    } while (!last);
    if (out_pos_ != out_len_) bad(str("stream ended after ", out_pos_, " bytes, expected ", out_len_));
  }

 private:
  static constexpr int kFastBits = 9;
  struct Huffman {
    uint16_t count[16];   // number of codes of each length
    uint16_t symbol[288]; // symbols ordered by code
    uint16_t fast[1 << kFastBits];  // next 9 stream bits -> (symbol << 4) | length; 0 = longer code
  };

  [[noreturn]] void bad(const std::string& msg) const {
    fail(what_, ": corrupt DEFLATE data (", msg, ") at input byte ", in_pos_);
  }

  uint32_t bits(int need) {
    uint32_t v = bit_buf_;
    while (bit_cnt_ < need) {
      if (in_pos_ >= in_len_) bad("input ends early");
      v |= uint32_t(in_[in_pos_++]) << bit_cnt_;
      bit_cnt_ += 8;
    }
    bit_buf_ = v >> need;
    bit_cnt_ -= need;
    return v & ((1u << need) - 1);
  }

  void put(unsigned char c) {
    if (out_pos_ >= out_len_) bad(str("output larger than the expected ", out_len_, " bytes"));
    out_[out_pos_++] = c;
  }

  void stored() {
    in_pos_ -= size_t(bit_cnt_ / 8);  // give back whole bytes read ahead by decode()
    bit_buf_ = 0;                     // and discard the rest of the current byte
    bit_cnt_ = 0;
    if (in_len_ - in_pos_ < 4) bad("stored block header cut short");
    unsigned len = in_[in_pos_] | (in_[in_pos_ + 1] << 8);
    unsigned nlen = in_[in_pos_ + 2] | (in_[in_pos_ + 3] << 8);
    in_pos_ += 4;
    if (len != (~nlen & 0xffffu)) bad("stored block length check failed");
    if (in_len_ - in_pos_ < len) bad("stored block cut short");
    if (out_len_ - out_pos_ < len) bad(str("output larger than the expected ", out_len_, " bytes"));
    std::memcpy(out_ + out_pos_, in_ + in_pos_, len);
    in_pos_ += len;
    out_pos_ += len;
  }

  int decode(const Huffman& h) {
    while (bit_cnt_ < kFastBits && in_pos_ < in_len_) {
      bit_buf_ |= uint32_t(in_[in_pos_++]) << bit_cnt_;
      bit_cnt_ += 8;
    }
    uint16_t e = h.fast[bit_buf_ & ((1u << kFastBits) - 1)];
    if (e != 0 && int(e & 15) <= bit_cnt_) {
      bit_buf_ >>= (e & 15);
      bit_cnt_ -= (e & 15);
      return e >> 4;
    }
    return decode_slow(h);
  }

  // Canonical Huffman decoding, one bit at a time (codes are sent most significant bit first).
  int decode_slow(const Huffman& h) {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= 15; ++len) {
      code |= int(bits(1));
      int count = h.count[len];
      if (code - count < first) return h.symbol[index + (code - first)];
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    bad("invalid Huffman code");
  }

  // Builds a table from code lengths; returns the number of unused codes (0 = complete,
  // > 0 = incomplete); an over-subscribed set of lengths is an error.
  int construct(Huffman& h, const uint16_t* length, int n) {
    std::memset(h.count, 0, sizeof h.count);
    for (int s = 0; s < n; ++s) h.count[length[s]]++;
    if (h.count[0] == n) return 0;
    int left = 1;
    for (int len = 1; len <= 15; ++len) {
      left <<= 1;
      left -= h.count[len];
      if (left < 0) bad("over-subscribed Huffman code lengths");
    }
    uint16_t offs[16];
    offs[1] = 0;
    for (int len = 1; len < 15; ++len) offs[len + 1] = uint16_t(offs[len] + h.count[len]);
    for (int s = 0; s < n; ++s)
      if (length[s] != 0) h.symbol[offs[length[s]]++] = uint16_t(s);
    // Lookup table: the canonical code of each symbol, bit-reversed (the stream sends codes
    // MSB first into an LSB-first bit buffer), replicated over the unused high bits.
    std::memset(h.fast, 0, sizeof h.fast);
    int code = 0, index = 0;
    for (int len = 1; len <= kFastBits; ++len) {
      for (int k = 0; k < h.count[len]; ++k, ++code, ++index) {
        int rev = 0;
        for (int b = 0; b < len; ++b) rev |= ((code >> b) & 1) << (len - 1 - b);
        for (int fill = rev; fill < (1 << kFastBits); fill += 1 << len)
          h.fast[fill] = uint16_t((h.symbol[index] << 4) | len);
      }
      code <<= 1;
    }
    return left;
  }

  void codes(const Huffman& lencode, const Huffman& distcode) {
    static constexpr uint16_t lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                           31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static constexpr uint8_t lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                         2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static constexpr uint16_t dbase[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                           33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                           1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static constexpr uint8_t dext[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    for (;;) {
      int sym = decode(lencode);
      if (sym < 256) {
        put(uint8_t(sym));
      } else if (sym == 256) {
        return;
      } else {
        sym -= 257;
        if (sym >= 29) bad("invalid length symbol");
        size_t len = lbase[sym] + bits(lext[sym]);
        int ds = decode(distcode);
        if (ds >= 30) bad("invalid distance symbol");
        size_t dist = dbase[ds] + bits(dext[ds]);
        if (dist > out_pos_) bad("distance reaches before the start of the output");
        if (out_len_ - out_pos_ < len) bad(str("output larger than the expected ", out_len_, " bytes"));
        for (size_t k = 0; k < len; ++k, ++out_pos_) out_[out_pos_] = out_[out_pos_ - dist];
      }
    }
  }

  void fixed() {
    Huffman lencode, distcode;
    uint16_t lengths[288];
    int s = 0;
    for (; s < 144; ++s) lengths[s] = 8;
    for (; s < 256; ++s) lengths[s] = 9;
    for (; s < 280; ++s) lengths[s] = 7;
    for (; s < 288; ++s) lengths[s] = 8;
    construct(lencode, lengths, 288);
    for (s = 0; s < 30; ++s) lengths[s] = 5;
    construct(distcode, lengths, 30);
    codes(lencode, distcode);
  }

  void dynamic() {
    static constexpr uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    int nlen = int(bits(5)) + 257, ndist = int(bits(5)) + 1, ncode = int(bits(4)) + 4;
    if (nlen > 286 || ndist > 30) bad("too many length or distance codes");
    uint16_t lengths[320] = {};
    for (int i = 0; i < ncode; ++i) lengths[order[i]] = uint16_t(bits(3));
    Huffman lencode, distcode;
    if (construct(lencode, lengths, 19) != 0) bad("incomplete code-length code");
    int index = 0;
    while (index < nlen + ndist) {
      int sym = decode(lencode);
      if (sym < 16) {
        lengths[index++] = uint16_t(sym);
        continue;
      }
      uint16_t len = 0;
      int rep;
      if (sym == 16) {
        if (index == 0) bad("repeat with no previous length");
        len = lengths[index - 1];
        rep = 3 + int(bits(2));
      } else if (sym == 17) {
        rep = 3 + int(bits(3));
      } else {
        rep = 11 + int(bits(7));
      }
      if (index + rep > nlen + ndist) bad("too many code lengths");
      while (rep--) lengths[index++] = len;
    }
    if (lengths[256] == 0) bad("no end-of-block code");
    int err = construct(lencode, lengths, nlen);
    if (err && nlen != lencode.count[0] + lencode.count[1]) bad("incomplete literal/length code");
    err = construct(distcode, lengths + nlen, ndist);
    if (err && ndist != distcode.count[0] + distcode.count[1]) bad("incomplete distance code");
    codes(lencode, distcode);
  }

  const unsigned char* in_;
  size_t in_len_, in_pos_ = 0;
  unsigned char* out_;
  size_t out_len_, out_pos_ = 0;
  uint32_t bit_buf_ = 0;
  int bit_cnt_ = 0;
  const std::string& what_;
};

}  // namespace detail

// Decompresses a raw DEFLATE stream into exactly out_len bytes at `out`.
inline void inflate(const void* in, size_t in_len, void* out, size_t out_len, const std::string& what) {
  detail::Inflater(static_cast<const unsigned char*>(in), in_len, static_cast<unsigned char*>(out), out_len, what)
      .run();
}

}  // namespace yolite::io
