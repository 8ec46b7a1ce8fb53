// Package archtest holds no code, only a test that keeps the module's
// layering honest (issue 15). It reads every package's non-test imports
// with go/build and follows them transitively inside the module:
//
//   - a package under the top-level internal/ imports no public package
//     (accumulator, broker, consumer, partitioner, producer, serializer,
//     skifftest, ...): the core sits below the API;
//   - no package outside cmd/ imports a package under cmd/;
//   - each package keeps to what docs/architecture.md's package table says
//     it must not import (the rules slice in the test is that table).
//
// Test files are not followed: an internal package's test may drive the
// public broker without making the package itself depend on it.
package archtest
