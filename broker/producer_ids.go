package broker

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/skiffkit/skiff/kerr"
)

// producerIDFile holds the first producer id not yet handed to any block.
// Like Kafka's ProducerIdManager, ids are reserved in blocks: the file is
// advanced durably before any id of a new block is used, so no id is ever
// issued twice, even across a crash (a crash only skips the rest of a
// block).
const (
	producerIDFile      = "producer-id-block"
	producerIDBlockSize = 1000
)

type producerIDs struct {
	dir string

	mu       sync.Mutex
	next     int64 // next id to hand out
	blockEnd int64 // first id past the reserved block
}

func openProducerIDs(dir string) (*producerIDs, error) {
	p := &producerIDs{dir: dir}
	raw, err := os.ReadFile(filepath.Join(dir, producerIDFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("broker: read %s: %w", producerIDFile, err)
	default:
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("broker: %s holds %q, not a producer id", producerIDFile, raw)
		}
		p.next = n
	}
	p.blockEnd = p.next
	return p, nil
}

// allocate returns a producer id never issued before.
func (p *producerIDs) allocate() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == p.blockEnd {
		if p.blockEnd > math.MaxInt64-producerIDBlockSize {
			return -1, fmt.Errorf("%w: producer ids exhausted", kerr.UnknownServerError)
		}
		end := p.blockEnd + producerIDBlockSize
		if err := writeFileAtomic(p.dir, producerIDFile, []byte(strconv.FormatInt(end, 10)+"\n")); err != nil {
			return -1, fmt.Errorf("%w: reserve producer ids: %v", kerr.KafkaStorageError, err)
		}
		p.blockEnd = end
	}
	id := p.next
	p.next++
	return id, nil
}

// issued reports whether id was handed out by this data directory.
func (p *producerIDs) issued(id int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return id >= 0 && id < p.next
}
