/* rnnas_status.c - descriptions of the runtime status codes. */
#include "rnnas_status.h"

const char *rnnas_status_string(rnnas_status status) {
  switch (status) {
    case RNNAS_OK: return "ok";
    case RNNAS_ERR_NULL: return "a required pointer is NULL";
    case RNNAS_ERR_CONFIG: return "configuration value out of range";
    case RNNAS_ERR_BUFFER_SIZE: return "buffer smaller than the size the *_get_buffer_size() call gave";
    case RNNAS_ERR_SHAPE: return "input too short or size mismatch";
  }
  return "unknown status";
}
