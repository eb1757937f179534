/*
 * Many JPEG tiles encoded at once, a strip of rows at a time, with libjpeg's scanline API.
 *
 * A pyramid writer that holds whole tile rows of pixels needs memory in proportion to the
 * image's width (512 rows x the width x 3 bytes, per level). Encoding every tile of a tile
 * row side by side, as the rows arrive, holds only each encoder's state and its compressed
 * output: a few tens of kB per tile column. Built by scripts/bootstrap.sh into
 * libtilejpeg.so and called through cffi (processing/images/streamtiff.py).
 *
 * Tiles narrower or shorter than the tile size (at the right and bottom edges) are padded
 * by repeating their last column and row, as TIFF wants whole tiles.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} error_mgr;

typedef struct {
    struct jpeg_compress_struct cinfo;
    error_mgr err;
    unsigned char *out;
    unsigned long size;
    unsigned char *row;
    int row_bytes;
    int bands;
    int created;
} tile;

static void on_error(j_common_ptr cinfo) {
    error_mgr *err = (error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
    (void)cinfo;
    (void)level;
}

const char *tile_error(tile *t) { return t->err.message; }

void tile_free(tile *t) {
    if (t == NULL) return;
    if (t->created) jpeg_destroy_compress(&t->cinfo);
    free(t->out);
    free(t->row);
    free(t);
}

/* A tile of width x height, 1 (grey) or 3 (RGB) bands; subsample: 4:2:0 colour, else 4:4:4.
 * NULL when out of memory; otherwise check tile_error() after tile_start(). */
tile *tile_new(void) {
    tile *t = calloc(1, sizeof(tile));
    if (t == NULL) return NULL;
    t->cinfo.err = jpeg_std_error(&t->err.pub);
    t->err.pub.error_exit = on_error;
    t->err.pub.emit_message = on_message;
    return t;
}

int tile_start(tile *t, int width, int height, int bands, int quality, int subsample) {
    if (setjmp(t->err.jump)) return -1;
    t->row_bytes = width * bands;
    t->bands = bands;
    t->row = malloc((size_t)t->row_bytes);
    if (t->row == NULL) {
        strcpy(t->err.message, "out of memory");
        return -1;
    }
    jpeg_create_compress(&t->cinfo);
    t->created = 1;
    jpeg_mem_dest(&t->cinfo, &t->out, &t->size);
    t->cinfo.image_width = (JDIMENSION)width;
    t->cinfo.image_height = (JDIMENSION)height;
    t->cinfo.input_components = bands;
    t->cinfo.in_color_space = bands == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&t->cinfo);
    jpeg_set_quality(&t->cinfo, quality, TRUE);
    t->cinfo.dct_method = JDCT_ISLOW;
    if (bands == 3 && !subsample) {
        t->cinfo.comp_info[0].h_samp_factor = 1;
        t->cinfo.comp_info[0].v_samp_factor = 1;
    }
    jpeg_start_compress(&t->cinfo, TRUE);
    return 0;
}

/* rows rows of pixels (stride bytes apart); the first present columns are the tile's,
 * the rest of its width repeats the last of them. */
int tile_write(tile *t, const unsigned char *pixels, ptrdiff_t stride, int rows, int present) {
    if (setjmp(t->err.jump)) return -1;
    int present_bytes = present * t->bands;
    for (int r = 0; r < rows; r++) {
        const unsigned char *source = pixels + (ptrdiff_t)r * stride;
        memcpy(t->row, source, (size_t)present_bytes);
        for (int b = present_bytes; b < t->row_bytes; b += t->bands)
            memcpy(t->row + b, source + present_bytes - t->bands, (size_t)t->bands);
        JSAMPROW pointer = t->row;
        jpeg_write_scanlines(&t->cinfo, &pointer, 1);
    }
    return 0;
}

/* Pads the missing rows with the last one, ends the JPEG; its size, or -1. */
long tile_finish(tile *t) {
    if (setjmp(t->err.jump)) return -1;
    while (t->cinfo.next_scanline < t->cinfo.image_height) {
        JSAMPROW pointer = t->row;
        jpeg_write_scanlines(&t->cinfo, &pointer, 1);
    }
    jpeg_finish_compress(&t->cinfo);
    return (long)t->size;
}

const unsigned char *tile_data(tile *t) { return t->out; }

/* One strip for a run of tile columns: tiles[i] gets columns [i * tile_width, ...) of
 * pixels; the last one has last_present columns. 0, or the index + 1 of a tile that failed
 * (negated). */
int tiles_write(tile **tiles, int count, const unsigned char *pixels, ptrdiff_t stride,
                int rows, int tile_width, int last_present) {
    for (int i = 0; i < count; i++) {
        int present = i == count - 1 ? last_present : tile_width;
        const unsigned char *start = pixels + (ptrdiff_t)i * tile_width * tiles[i]->bands;
        if (tile_write(tiles[i], start, stride, rows, present) != 0) return -(i + 1);
    }
    return 0;
}

/*
 * A JPEG read a strip of rows at a time (libjpeg's scanline API), optionally at 1/2, 1/4
 * or 1/8 of its size by DCT scaling: memory for one MCU row, whatever the image's size.
 * For baseline JPEGs only (a progressive one needs its whole coefficient image).
 * Warnings (damaged data, a file cut short) are collected for the caller to judge.
 */
typedef struct {
    struct jpeg_decompress_struct dinfo;
    error_mgr err;
    FILE *file;
    char warnings[4096];
    int created;
    int started;
} reader;

static void on_warning(j_common_ptr cinfo, int level) {
    if (level >= 0) return; /* trace messages */
    error_mgr *err = (error_mgr *)cinfo->err;
    reader *r = (reader *)((char *)err - offsetof(reader, err));
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    size_t used = strlen(r->warnings);
    if (used + strlen(message) + 2 < sizeof(r->warnings)) {
        memcpy(r->warnings + used, message, strlen(message));
        r->warnings[used + strlen(message)] = '\n';
        r->warnings[used + strlen(message) + 1] = '\0';
    }
}

reader *reader_new(void) {
    reader *r = calloc(1, sizeof(reader));
    if (r == NULL) return NULL;
    r->dinfo.err = jpeg_std_error(&r->err.pub);
    r->err.pub.error_exit = on_error;
    r->err.pub.emit_message = on_warning;
    return r;
}

const char *reader_error(reader *r) { return r->err.message; }
const char *reader_warnings(reader *r) { return r->warnings; }

/* Opens path; out: the decoded size and bands, and whether it is progressive. */
int reader_open(reader *r, const char *path, int denominator, int *width, int *height,
                int *bands, int *progressive) {
    if (setjmp(r->err.jump)) return -1;
    r->file = fopen(path, "rb");
    if (r->file == NULL) {
        snprintf(r->err.message, sizeof(r->err.message), "cannot open the file");
        return -1;
    }
    jpeg_create_decompress(&r->dinfo);
    r->created = 1;
    jpeg_stdio_src(&r->dinfo, r->file);
    jpeg_read_header(&r->dinfo, TRUE);
    *progressive = jpeg_has_multiple_scans(&r->dinfo) ? 1 : 0;
    if (*progressive) return 0; /* the caller reads it some other way */
    if (r->dinfo.jpeg_color_space == JCS_CMYK || r->dinfo.jpeg_color_space == JCS_YCCK) {
        snprintf(r->err.message, sizeof(r->err.message), "CMYK JPEG");
        return -1;
    }
    r->dinfo.out_color_space = r->dinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    r->dinfo.scale_num = 1;
    r->dinfo.scale_denom = (unsigned int)denominator;
    r->dinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&r->dinfo);
    r->started = 1;
    *width = (int)r->dinfo.output_width;
    *height = (int)r->dinfo.output_height;
    *bands = r->dinfo.output_components;
    return 0;
}

/* Up to rows rows into out (stride bytes apart); the number read, or -1. */
int reader_read(reader *r, unsigned char *out, ptrdiff_t stride, int rows) {
    if (setjmp(r->err.jump)) return -1;
    int done = 0;
    while (done < rows && r->dinfo.output_scanline < r->dinfo.output_height) {
        JSAMPROW pointer = out + (ptrdiff_t)done * stride;
        done += (int)jpeg_read_scanlines(&r->dinfo, &pointer, 1);
    }
    return done;
}

void reader_free(reader *r) {
    if (r == NULL) return;
    if (r->created) {
        if (!setjmp(r->err.jump) && r->started &&
            r->dinfo.output_scanline >= r->dinfo.output_height)
            jpeg_finish_decompress(&r->dinfo);
        jpeg_destroy_decompress(&r->dinfo);
    }
    if (r->file != NULL) fclose(r->file);
    free(r);
}
