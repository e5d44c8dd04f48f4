/* rnnas_status.h - status codes shared by every rnnas runtime function. C99, no dependencies. */
#ifndef RNNAS_STATUS_H
#define RNNAS_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Result of a runtime call. Every function that can fail returns one; 0 is success. */
typedef enum {
  RNNAS_OK = 0,                /**< success */
  RNNAS_ERR_NULL = 1,          /**< a required pointer argument is NULL */
  RNNAS_ERR_CONFIG = 2,        /**< a configuration value is out of its documented range */
  RNNAS_ERR_BUFFER_SIZE = 3,   /**< the caller's buffer is smaller than *_get_buffer_size() */
  RNNAS_ERR_SHAPE = 4          /**< an input is too short or a size does not match the configuration */
} rnnas_status;

/** A short English description of a status code (never NULL). */
const char *rnnas_status_string(rnnas_status status);

#ifdef __cplusplus
}
#endif

#endif /* RNNAS_STATUS_H */
