package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRecommend(t *testing.T) {
	base := fixedResults()
	failed := fixedResults()
	failed[1].Failed, failed[1].Err = 3, "NOT_ENOUGH_REPLICAS"
	interrupted := fixedResults()
	interrupted[1].Interrupted = true
	tests := []struct {
		name    string
		results []Result
		maxP99  time.Duration
		want    int // -1: none qualifies
	}{
		{"bound excludes the fastest", base, 50 * time.Millisecond, 1},
		{"loose bound takes the fastest", base, time.Second, 3},
		{"bound is inclusive", base, 12 * time.Millisecond, 1},
		{"tight bound", base, 3 * time.Millisecond, 0},
		{"nothing qualifies", base, time.Millisecond, -1},
		{"failed points never qualify", failed, 50 * time.Millisecond, 2},
		{"interrupted points never qualify", interrupted, 50 * time.Millisecond, 2},
		{"empty sweep", nil, time.Second, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := Recommend(tt.results, tt.maxP99)
			assert.Equal(t, tt.want, rec.Index)
			assert.Equal(t, tt.want >= 0, rec.Found)
			assert.Equal(t, tt.maxP99, rec.MaxP99)
			if tt.want >= 0 {
				assert.Equal(t, tt.results[tt.want], rec.Result)
			}
		})
	}
}
