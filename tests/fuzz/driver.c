/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs a libFuzzer-style target without libFuzzer, so every fuzz target runs in `make check`:
 * each file in the corpus directory(ies) given as arguments, then a fixed number of
 * deterministic mutations of them (byte flips, truncations, splices). scripts/fuzz.sh builds
 * the same targets with clang's -fsanitize=fuzzer for open-ended fuzzing.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct input {
	uint8_t *data;
	size_t size;
};

static struct input *inputs;
static size_t n_inputs;

static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct input in = {0};
	long sz;

	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && sz < (1 << 20)) {
		rewind(f);
		in.data = malloc((size_t)sz + 1);
		if (in.data && fread(in.data, 1, (size_t)sz, f) == (size_t)sz) {
			in.size = (size_t)sz;
			inputs = realloc(inputs, (n_inputs + 1) * sizeof(*inputs));
			inputs[n_inputs++] = in;
		} else {
			free(in.data);
		}
	}
	fclose(f);
}

static void add_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (stat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		add_file(p);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	unsigned long iterations = 20000;
	const char *it = getenv("PF_FUZZ_ITERATIONS");
	size_t runs = 0;

	if (it)
		iterations = strtoul(it, NULL, 10);
	for (int i = 1; i < argc; i++)
		add_path(argv[i]);
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	for (size_t i = 0; i < n_inputs; i++, runs++)
		LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].size);
	for (unsigned long k = 0; n_inputs && k < iterations; k++, runs++) {
		const struct input *a = &inputs[next_rand() % n_inputs];
		const struct input *b = &inputs[next_rand() % n_inputs];
		size_t size = a->size, cut;
		uint8_t *buf = malloc(size + b->size + 1);

		memcpy(buf, a->data, size);
		switch (next_rand() % 4) {
		case 0: /* flip a few bytes */
			for (int j = 0; size && j < 4; j++)
				buf[next_rand() % size] = (uint8_t)next_rand();
			break;
		case 1: /* truncate */
			size = size ? next_rand() % size : 0;
			break;
		case 2: /* splice b's tail after a's head */
			cut = size ? next_rand() % size : 0;
			memcpy(buf + cut, b->data, b->size);
			size = cut + b->size;
			break;
		default: /* interesting bytes */
			for (int j = 0; size && j < 2; j++) {
				static const uint8_t v[] = {0,	 0xff, 0x7f, 0x80, '"',
							    '{', '[',  ':',  '-',  '\n'};
				buf[next_rand() % size] = v[next_rand() % sizeof(v)];
			}
		}
		LLVMFuzzerTestOneInput(buf, size);
		free(buf);
	}
	printf("ok 1 - %zu inputs (%zu corpus files) ran without a crash\n1..1\n", runs, n_inputs);
	for (size_t i = 0; i < n_inputs; i++)
		free(inputs[i].data);
	free(inputs);
	return 0;
}
