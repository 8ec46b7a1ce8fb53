package accum

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAwakeSenderNotWoken: a batch opened while the sender is awake does
// not leave a wake-up behind; its linger deadline comes back from
// SleepUntil instead, when it is earlier than the sender's own.
// (Asleep, it is woken for an earlier deadline:
// TestSleepUntilSkipsNeedlessWakeups.)
func TestAwakeSenderNotWoken(t *testing.T) {
	const linger = time.Second
	for _, tc := range []struct {
		name  string
		sleep func(opened time.Time) time.Time // the sender's own wake-up time
		want  func(opened time.Time) time.Time // what SleepUntil returns
	}{
		{"no deadline of its own", func(time.Time) time.Time { return time.Time{} }, func(o time.Time) time.Time { return o.Add(linger) }},
		{"its own deadline later", func(o time.Time) time.Time { return o.Add(2 * linger) }, func(o time.Time) time.Time { return o.Add(linger) }},
		{"its own deadline earlier", func(o time.Time) time.Time { return o.Add(linger / 2) }, func(o time.Time) time.Time { return o.Add(linger / 2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newAcc(t, Config{Linger: linger})
				a.Awake()
				opened := time.Now()
				require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
				select {
				case <-a.Wakeup():
					t.Fatal("an awake sender was woken for a new batch")
				default:
				}
				got := a.SleepUntil(tc.sleep(opened))
				assert.Equal(t, tc.want(opened).UnixNano(), got.UnixNano())

				// Asleep, a batch due after its wake-up does not wake it.
				require.NoError(t, a.Append(context.Background(), "t", 1, rec(1, nil)))
				select {
				case <-a.Wakeup():
					t.Fatal("woken for a batch due after the wake-up")
				default:
				}
				// The deadline handed over once is not handed over again.
				a.Awake()
				assert.True(t, a.SleepUntil(time.Time{}).IsZero())
			})
		})
	}
}
