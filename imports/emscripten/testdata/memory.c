// The heap growing past its initial size (emcc -sALLOW_MEMORY_GROWTH): malloc of large blocks
// through emscripten_resize_heap, every page written and checked. (Not here: a request past the
// heap's maximum. emcc 3.1.6's malloc answers 3 GiB with a pointer, under node as under keel,
// though the memory cannot hold it.)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  enum { BLOCKS = 12, SIZE = 8 * 1024 * 1024 };
  unsigned char* blocks[BLOCKS];
  for (int i = 0; i < BLOCKS; i++) {
    blocks[i] = malloc(SIZE);
    if (!blocks[i]) {
      printf("block %d: NULL\n", i);
      return 1;
    }
    for (int j = 0; j < SIZE; j += 4096) blocks[i][j] = (unsigned char)(i + j / 4096);
  }
  unsigned long sum = 0;
  for (int i = 0; i < BLOCKS; i++)
    for (int j = 0; j < SIZE; j += 4096) sum += blocks[i][j];
  printf("%d blocks of %d MiB, checksum %lu\n", BLOCKS, SIZE >> 20, sum);
  for (int i = 0; i < BLOCKS; i++) free(blocks[i]);
  return 0;
}
