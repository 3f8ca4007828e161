// SPDX-License-Identifier: GPL-2.0
/*
 * p2pmem-copy: move data between block devices and p2p memory, in chunks,
 * with several threads, verify it, and print the throughput.
 *
 *   p2pmem-copy [options] -i INPUT [-o OUTPUT] -s SIZE
 *
 * Each thread maps one chunk of memory and moves the chunks whose index
 * it owns: INPUT -> memory, then memory -> OUTPUT if given. The memory:
 *   -m /dev/p2pmemN      p2p memory through the char device; the data
 *                        moves with P2PMEM_IOC_RW, which checks that the
 *                        drive may reach the memory (EREMOTEIO if not)
 *   -a .../p2pmem/allocate
 *                        p2p memory through upstream's allocate file; the
 *                        data moves with plain O_DIRECT pread/pwrite
 *   (neither)            anonymous memory with plain O_DIRECT: the baseline
 * Other options:
 *   -c CHUNK   bytes per transfer (default 1M; k, M, G suffixes)
 *   -t N       threads (default 2)
 *   -O OFFSET  start this far into INPUT and OUTPUT (default 0)
 *   -p         with -m, use plain O_DIRECT anyway (fails: the mapping
 *              cannot be pinned)
 *   -v         verify: each chunk read back from OUTPUT (or, without
 *              OUTPUT, the memory itself) must equal INPUT's
 *   -h, --help this help (Documentation/man/p2pmem-copy.1 says the same)
 *
 * Exit status: 0 done (and verified), 1 an error (the message names the
 * call and errno), 2 bad usage, 3 the data did not verify.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <p2pdma/p2pmem.h>

enum mem_kind { MEM_ANON, MEM_CHARDEV, MEM_ALLOCATE };

static struct {
	const char *input, *output, *mem_path;
	enum mem_kind kind;
	uint64_t size, chunk, offset;
	int threads, plain, verify;
	int in_fd, out_fd, mem_fd;
} opt = { .chunk = 1 << 20, .threads = 2, .out_fd = -1, .mem_fd = -1 };

static int failed;	/* the first exit status other than 0 */
static pthread_mutex_t failed_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(int status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&failed_lock);
	if (!failed) {
		failed = status;
		va_start(ap, fmt);
		fputs("p2pmem-copy: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	pthread_mutex_unlock(&failed_lock);
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	const char *suffixes = "kmg", *suffix;

	v = strtoull(s, &end, 0);
	suffix = *end ? strchr(suffixes, *end | 0x20) : NULL;
	if (suffix) {
		v <<= 10 * (suffix - suffixes + 1);
		end++;
	}
	*out = v;
	return *end || end == s ? -1 : 0;
}

/* Move @len bytes between @fd at @off and the memory at @buf. */
static int transfer(int fd, const char *name, void *buf, uint64_t off,
		    uint64_t len, int write)
{
	ssize_t done;

	if (opt.kind == MEM_CHARDEV && !opt.plain) {
		struct p2pmem_rw rw = {
			.fd = fd, .flags = write ? P2PMEM_RW_WRITE : 0,
			.offset = off, .addr = (uintptr_t)buf, .len = len,
		};

		done = ioctl(opt.mem_fd, P2PMEM_IOC_RW, &rw);
	} else if (write) {
		done = pwrite(fd, buf, len, off);
	} else {
		done = pread(fd, buf, len, off);
	}
	if (done == (ssize_t)len)
		return 0;
	fail(1, "%s %s at %llu: %s", write ? "write" : "read", name,
	     (unsigned long long)off,
	     done < 0 ? strerror(errno) : "only part of it moved");
	return -1;
}

static void *map_chunk(void)
{
	void *buf;

	if (opt.kind == MEM_ANON) {
		if (posix_memalign(&buf, 4096, opt.chunk))
			return NULL;
		return buf;
	}
	buf = mmap(NULL, opt.chunk, PROT_READ | PROT_WRITE, MAP_SHARED,
		   opt.mem_fd, 0);
	if (buf == MAP_FAILED) {
		fail(1, "mmap %llu bytes of %s: %s",
		     (unsigned long long)opt.chunk, opt.mem_path, strerror(errno));
		return NULL;
	}
	return buf;
}

/*
 * INPUT's chunk at @off, read again into @want, must equal OUTPUT's, read
 * into @got, or without OUTPUT the memory @mem itself.
 */
static int verify_chunk(void *mem, void *want, void *got, uint64_t off,
			uint64_t len)
{
	const char *what = opt.output ? opt.output :
			   opt.mem_path ? opt.mem_path : "memory";

	if (pread(opt.in_fd, want, len, off) != (ssize_t)len) {
		fail(1, "verify: read %s at %llu: %s", opt.input,
		     (unsigned long long)off, strerror(errno));
		return -1;
	}
	if (opt.out_fd >= 0 && pread(opt.out_fd, got, len, off) != (ssize_t)len) {
		fail(1, "verify: read %s at %llu: %s", opt.output,
		     (unsigned long long)off, strerror(errno));
		return -1;
	}
	if (memcmp(opt.out_fd >= 0 ? got : mem, want, len)) {
		fail(3, "verify: %s differs from %s in the chunk at %llu",
		     what, opt.input, (unsigned long long)off);
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	uint64_t id = (uintptr_t)arg, nr = opt.size / opt.chunk, i, off;
	void *mem, *want = NULL, *got = NULL;

	mem = map_chunk();
	if (!mem)
		return NULL;
	if (opt.verify && (posix_memalign(&want, 4096, opt.chunk) ||
			   posix_memalign(&got, 4096, opt.chunk))) {
		fail(1, "out of memory");
		goto out;
	}
	for (i = id; i < nr && !failed; i += opt.threads) {
		off = opt.offset + i * opt.chunk;
		if (transfer(opt.in_fd, opt.input, mem, off, opt.chunk, 0))
			break;
		if (opt.out_fd >= 0 &&
		    transfer(opt.out_fd, opt.output, mem, off, opt.chunk, 1))
			break;
		if (opt.verify && verify_chunk(mem, want, got, off, opt.chunk))
			break;
	}
out:
	free(want);
	free(got);
	if (opt.kind == MEM_ANON)
		free(mem);
	else
		munmap(mem, opt.chunk);
	return NULL;
}

static int usage(void)
{
	fputs("Usage: p2pmem-copy [-m /dev/p2pmemN | -a ALLOCATE] [-p] [-c CHUNK] [-t THREADS]\n"
	      "                   [-O OFFSET] [-v] -i INPUT [-o OUTPUT] -s SIZE\n"
	      "Try 'p2pmem-copy --help' for more information.\n", stderr);
	return 2;
}

/* --help: what the man page, p2pmem-copy(1), says of each option. */
static int print_help(void)
{
	fputs("Usage: p2pmem-copy [-m /dev/p2pmemN | -a ALLOCATE] [-p] [-c CHUNK] [-t THREADS]\n"
	      "                   [-O OFFSET] [-v] -i INPUT [-o OUTPUT] -s SIZE\n"
	      "Move SIZE bytes from INPUT into memory and from there to OUTPUT, in chunks,\n"
	      "with several threads; verify the data and print the throughput.\n"
	      "\n"
	      "Options:\n"
	      "  -i INPUT          the block device (or file) to read, with O_DIRECT\n"
	      "  -o OUTPUT         the block device (or file) to write the data to\n"
	      "  -s SIZE           bytes to move, a multiple of CHUNK\n"
	      "  -m /dev/p2pmemN   p2p memory through the char device; data moves with\n"
	      "                    P2PMEM_IOC_RW, which fails with EREMOTEIO if the drive\n"
	      "                    may not reach the memory\n"
	      "  -a ALLOCATE       p2p memory through a provider's p2pmem/allocate file;\n"
	      "                    data moves with plain O_DIRECT\n"
	      "  -p                with -m, use plain O_DIRECT anyway (fails: the mapping\n"
	      "                    cannot be pinned)\n"
	      "  -c CHUNK          bytes per transfer, a multiple of 4096 (default 1M)\n"
	      "  -t THREADS        threads (default 2)\n"
	      "  -O OFFSET         start this far into INPUT and OUTPUT (default 0)\n"
	      "  -v                verify: each chunk read back from OUTPUT (or, without\n"
	      "                    OUTPUT, the memory itself) must equal INPUT's\n"
	      "  -h, --help        print this help and exit\n"
	      "\n"
	      "Without -m or -a: anonymous memory with plain O_DIRECT, the baseline.\n"
	      "SIZE, CHUNK and OFFSET take k, M and G suffixes.\n"
	      "Exit status: 0 done (and verified), 1 an error, 2 bad usage,\n"
	      "3 the data did not verify.\n", stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec start, end;
	pthread_t *tids;
	double secs;
	static const struct option long_opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int c, i;

	while ((c = getopt_long(argc, argv, "m:a:pc:t:O:vi:o:s:h", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'h':
			return print_help();
		case 'm':
		case 'a':
			opt.mem_path = optarg;
			opt.kind = c == 'm' ? MEM_CHARDEV : MEM_ALLOCATE;
			break;
		case 'p':
			opt.plain = 1;
			break;
		case 'c':
		case 'O':
		case 's':
			if (parse_size(optarg, c == 'c' ? &opt.chunk :
					       c == 'O' ? &opt.offset : &opt.size))
				return usage();
			break;
		case 't':
			opt.threads = atoi(optarg);
			break;
		case 'v':
			opt.verify = 1;
			break;
		case 'i':
			opt.input = optarg;
			break;
		case 'o':
			opt.output = optarg;
			break;
		default:
			return usage();
		}
	}
	if (!opt.input || !opt.size || !opt.chunk || opt.threads < 1 ||
	    opt.size % opt.chunk || opt.chunk % 4096 || optind != argc)
		return usage();
	opt.in_fd = open(opt.input, O_RDONLY | O_DIRECT);
	if (opt.in_fd < 0) {
		fail(1, "open %s: %s", opt.input, strerror(errno));
		return failed;
	}
	if (opt.output) {
		opt.out_fd = open(opt.output, O_RDWR | O_DIRECT);
		if (opt.out_fd < 0) {
			fail(1, "open %s: %s", opt.output, strerror(errno));
			return failed;
		}
	}
	if (opt.mem_path) {
		opt.mem_fd = open(opt.mem_path, O_RDWR);
		if (opt.mem_fd < 0) {
			fail(1, "open %s: %s", opt.mem_path, strerror(errno));
			return failed;
		}
	}
	tids = calloc(opt.threads, sizeof(*tids));
	if (!tids)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < opt.threads; i++)
		pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)i);
	for (i = 0; i < opt.threads; i++)
		pthread_join(tids[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &end);
	free(tids);
	if (failed)
		return failed;
	secs = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
	printf("p2pmem-copy: %llu bytes %s -> %s%s%s in %.3f s: %.1f MiB/s",
	       (unsigned long long)opt.size, opt.input,
	       opt.mem_path ? opt.mem_path : "anonymous memory",
	       opt.output ? " -> " : "", opt.output ? opt.output : "", secs,
	       opt.size / secs / (1 << 20));
	printf(" (%d threads, %llu-byte chunks)%s\n", opt.threads,
	       (unsigned long long)opt.chunk, opt.verify ? ", verified" : "");
	return 0;
}
