/* Time of decoding one JPEG with the system's libjpeg-turbo, the library TurboJPEG wraps: run it as is (its SIMD
 * code) and with JSIMD_FORCENONE=1 (its C code alone, as in SkiaSharp's build, whose profile shows the C functions
 * jpeg_idct_islow, ycc_rgb_convert and h2v2_fancy_upsample). docs/install.md quotes the two.
 *
 *     apt-get install libjpeg62-turbo-dev
 *     gcc -O2 -o /tmp/jpeg_simd bench/jpeg_simd.c -ljpeg
 *     /tmp/jpeg_simd photo.jpg && JSIMD_FORCENONE=1 /tmp/jpeg_simd photo.jpg
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jpeglib.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s photo.jpg\n", argv[0]);
        return 2;
    }
    FILE *file = fopen(argv[1], "rb");
    if (!file) {
        perror(argv[1]);
        return 1;
    }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *jpeg = malloc(size);
    if (fread(jpeg, 1, size, file) != (size_t)size) {
        perror(argv[1]);
        return 1;
    }
    fclose(file);
    const int decodes = 2000;
    unsigned char *pixels = NULL;
    double start = now();
    for (int i = 0; i < decodes; i++) {
        struct jpeg_decompress_struct info;
        struct jpeg_error_mgr errors;
        info.err = jpeg_std_error(&errors);
        jpeg_create_decompress(&info);
        jpeg_mem_src(&info, jpeg, size);
        jpeg_read_header(&info, TRUE);
        jpeg_start_decompress(&info);
        size_t row_bytes = (size_t)info.output_width * info.output_components;
        if (!pixels) {
            pixels = malloc(row_bytes * info.output_height);
        }
        while (info.output_scanline < info.output_height) {
            unsigned char *row = pixels + info.output_scanline * row_bytes;
            jpeg_read_scanlines(&info, &row, 1);
        }
        jpeg_finish_decompress(&info);
        jpeg_destroy_decompress(&info);
    }
    printf("%.3f ms per decode of %s (%d decodes)\n", (now() - start) / decodes * 1e3, argv[1], decodes);
    return 0;
}
