#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringbuf.h"

struct ringbuf {
	unsigned char *data;
	size_t size;
	size_t head;
	size_t tail;
	size_t count;
};

struct ringbuf *ringbuf_new(size_t size)
{
	struct ringbuf *rb;

	if (size == 0)
		return NULL;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return NULL;
	rb->data = malloc(size);
	if (!rb->data) {
		free(rb);
		return NULL;
	}
	rb->size = size;
	return rb;
}

void ringbuf_free(struct ringbuf *rb)
{
	if (!rb)
		return;
	free(rb->data);
	free(rb);
}

int ringbuf_push(struct ringbuf *rb, const void *src, size_t len)
{
	const unsigned char *p = src;
	size_t i;

	if (len > rb->size - rb->count)
		return -ENOSPC;
	for (i = 0; i < len; i++) {
		rb->data[rb->head] = p[i];
		rb->head = (rb->head + 1) % rb->size;
	}
	rb->count += len;
	return 0;
}

size_t ringbuf_pop(struct ringbuf *rb, void *dst, size_t len)
{
	unsigned char *p = dst;
	size_t i;

	if (len > rb->count)
		len = rb->count;
	for (i = 0; i < len; i++) {
		p[i] = rb->data[rb->tail];
		rb->tail = (rb->tail + 1) % rb->size;
	}
	rb->count -= len;
	return len;
}
