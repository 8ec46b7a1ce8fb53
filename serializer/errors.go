package serializer

import "errors"

// ErrWrongSize is wrapped by a fixed-width deserializer (Int16, Int32,
// Int64, Float32, Float64) given a non-null value of the wrong length, as
// Java's IntegerDeserializer throws "Size of data received by
// IntegerDeserializer is not 4". The record was written with another
// serializer; the error names the topic and the expected width.
var ErrWrongSize = errors.New("wrong encoded size")
