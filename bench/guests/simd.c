// Benchmark guest: 128-bit SIMD image processing, written with wasm_simd128.h intrinsics.
//
// Built by `cargo xtask testdata` (freestanding wasm32 with -msimd128, no libc). Exports
// `run(i32) -> i64`: n rounds over a 64 KiB 8-bit image, each a 3-tap blur (widening to 16-bit
// lanes and narrowing back), a saturating brighten clamped to a range, and a checksum of the
// bytes (pairwise widening adds); then a dot product of the image, centred and converted to
// f32, with a weight table (four f32x4 accumulators). Returns the checksum and the dot
// product's bits. (The centre depends on n: with a constant one, clang 14 folds the widening
// and the conversion into one that it then scalarises lane by lane.)
//
// The same source built natively (`cc -O2 -ffp-contract=off simd.c && ./a.out N`) computes
// the result with scalar code that follows the lanes exactly; that is where the expected
// results in bench/src/main.rs come from.

#define PIXELS 65536
// The image sits at [PAD, PAD + PIXELS): the blur reads one byte either side of it.
#define PAD 16

static unsigned char img[PIXELS + 2 * PAD];
static unsigned char tmp[PIXELS + 2 * PAD];
static float weight[PIXELS];

static void init(void) {
    unsigned int x = 12345;
    for (int i = 0; i < PIXELS; i++) {
        x = x * 1103515245u + 12345u;
        img[PAD + i] = (unsigned char)(x >> 24);
        weight[i] = (float)(i % 7 - 3) * 0.125f;
    }
}

#ifdef __wasm_simd128__
#include <wasm_simd128.h>

// tmp = (left + 2 * mid + right + 2) >> 2, for every pixel.
static void blur(void) {
    for (int i = PAD; i < PAD + PIXELS; i += 16) {
        v128_t l = wasm_v128_load(&img[i - 1]);
        v128_t m = wasm_v128_load(&img[i]);
        v128_t r = wasm_v128_load(&img[i + 1]);
        v128_t two = wasm_i16x8_splat(2);
        v128_t lo = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(l), wasm_u16x8_extend_low_u8x16(r));
        v128_t hi = wasm_i16x8_add(wasm_u16x8_extend_high_u8x16(l), wasm_u16x8_extend_high_u8x16(r));
        lo = wasm_i16x8_add(lo, wasm_i16x8_shl(wasm_u16x8_extend_low_u8x16(m), 1));
        hi = wasm_i16x8_add(hi, wasm_i16x8_shl(wasm_u16x8_extend_high_u8x16(m), 1));
        lo = wasm_u16x8_shr(wasm_i16x8_add(lo, two), 2);
        hi = wasm_u16x8_shr(wasm_i16x8_add(hi, two), 2);
        wasm_v128_store(&tmp[i], wasm_u8x16_narrow_i16x8(lo, hi));
    }
}

// img = clamp(tmp + k (saturating), 20, 230); returns the sum of the new bytes.
static unsigned int brighten(int k) {
    v128_t add = wasm_u8x16_splat((unsigned char)k);
    v128_t low = wasm_u8x16_splat(20);
    v128_t high = wasm_u8x16_splat(230);
    v128_t sum = wasm_i32x4_splat(0);
    for (int i = PAD; i < PAD + PIXELS; i += 16) {
        v128_t v = wasm_u8x16_add_sat(wasm_v128_load(&tmp[i]), add);
        v = wasm_u8x16_max(wasm_u8x16_min(v, high), low);
        wasm_v128_store(&img[i], v);
        sum = wasm_i32x4_add(sum, wasm_u32x4_extadd_pairwise_u16x8(wasm_u16x8_extadd_pairwise_u8x16(v)));
    }
    return wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) +
           wasm_i32x4_extract_lane(sum, 2) + wasm_i32x4_extract_lane(sum, 3);
}

static float dot(int centre) {
    v128_t c = wasm_i32x4_splat(centre);
    v128_t acc[4] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0),
                     wasm_f32x4_splat(0)};
    for (int i = 0; i < PIXELS; i += 16) {
        v128_t v = wasm_v128_load(&img[PAD + i]);
        v128_t h[2] = {wasm_u16x8_extend_low_u8x16(v), wasm_u16x8_extend_high_u8x16(v)};
        for (int j = 0; j < 4; j++) {
            v128_t w = j % 2 ? wasm_u32x4_extend_high_u16x8(h[j / 2]) : wasm_u32x4_extend_low_u16x8(h[j / 2]);
            v128_t f = wasm_f32x4_convert_i32x4(wasm_i32x4_sub(w, c));
            acc[j] = wasm_f32x4_add(acc[j], wasm_f32x4_mul(f, wasm_v128_load(&weight[i + 4 * j])));
        }
    }
    float s = 0;
    for (int j = 0; j < 4; j++) {
        s += wasm_f32x4_extract_lane(acc[j], 0);
        s += wasm_f32x4_extract_lane(acc[j], 1);
        s += wasm_f32x4_extract_lane(acc[j], 2);
        s += wasm_f32x4_extract_lane(acc[j], 3);
    }
    return s;
}

#else
// The scalar reference: the same arithmetic, lane by lane, in the same order.

static void blur(void) {
    for (int i = PAD; i < PAD + PIXELS; i++) {
        tmp[i] = (unsigned char)((img[i - 1] + 2 * img[i] + img[i + 1] + 2) >> 2);
    }
}

static unsigned int brighten(int k) {
    unsigned int sum = 0;
    for (int i = PAD; i < PAD + PIXELS; i++) {
        int v = tmp[i] + (unsigned char)k;
        v = v > 255 ? 255 : v;
        v = v > 230 ? 230 : v;
        v = v < 20 ? 20 : v;
        img[i] = (unsigned char)v;
        sum += (unsigned int)v;
    }
    return sum;
}

static float dot(int centre) {
    float acc[4][4] = {{0}};
    for (int i = 0; i < PIXELS; i += 16) {
        for (int j = 0; j < 4; j++) {
            for (int k = 0; k < 4; k++) {
                int at = i + 4 * j + k;
                acc[j][k] = acc[j][k] + (float)(img[PAD + at] - centre) * weight[at];
            }
        }
    }
    float s = 0;
    for (int j = 0; j < 4; j++) {
        for (int k = 0; k < 4; k++) {
            s += acc[j][k];
        }
    }
    return s;
}
#endif

__attribute__((export_name("run"))) long long run(int n) {
    init();
    unsigned int checksum = 0;
    for (int round = 0; round < n; round++) {
        blur();
        checksum = checksum * 31 + brighten(round % 5);
    }
    union {
        float f;
        unsigned int i;
    } bits;
    bits.f = dot(120 + n % 16);
    return (long long)checksum << 32 | bits.i;
}

#ifndef __wasm__
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("%lld\n", run(argc > 1 ? atoi(argv[1]) : 1));
    return 0;
}
#endif
