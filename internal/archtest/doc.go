// Package archtest holds no code, only a test that keeps the module's
// layering honest (issue 15): the core under internal/ sits below the public
// packages and never imports them, and nothing a user can import depends on
// the applications under cmd/.
//
// The rules, as the test checks them over each package's non-test imports,
// followed transitively inside the module:
//
//   - a package under the top-level internal/ imports no public package
//     (accumulator, broker, consumer, partitioner, producer, serializer,
//     skifftest, ...);
//   - no package outside cmd/ imports a package under cmd/.
//
// Test files are not followed: an internal package's test may drive the
// public broker without making the package itself depend on it.
package archtest
