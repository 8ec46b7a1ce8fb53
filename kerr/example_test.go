package kerr_test

import (
	"errors"
	"fmt"

	"github.com/skiffkit/skiff/kerr"
)

func ExampleForCode() {
	err := fmt.Errorf("produce orders[3]: %w", kerr.ForCode(6))
	fmt.Println(errors.Is(err, kerr.NotLeaderForPartition), kerr.IsRetriable(err))
	fmt.Println(kerr.ForCode(0) == nil)
	// Output:
	// true true
	// true
}
