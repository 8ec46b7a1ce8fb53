package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skiffkit/skiff/consumer"
)

func init() {
	register("consume", "print records of a topic (assign mode, or a consumer group with --group)", runConsume)
}

func runConsume(ctx context.Context, args []string) int {
	return consumeMain(ctx, args, os.Stdout, os.Stderr)
}

const defaultConsumeFormat = `%k\t%v\t%p\t%o\n`

func consumeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("skiff consume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		brokers   = fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers (bootstrap.servers)")
		topic     = fs.String("topic", "", "topic to consume (required)")
		group     = fs.String("group", "", "consumer group (group.id); without it every partition is assigned directly")
		fromStart = fs.Bool("from-beginning", false, "start at the earliest offset when there is no committed offset (auto.offset.reset=earliest)")
		exitAtEnd = fs.Bool("exit-at-end", false, "exit once every consumed partition reached the end offset it had at start")
		count     = fs.Int("count", 0, "exit after this many records (0: no limit)")
		format    = fs.String("format", defaultConsumeFormat, "output format: %k key, %v value, %p partition, %o offset, %t topic, %T timestamp (ms), %h headers, %% percent; \\t \\n \\\\ escapes")
		verbose   = fs.Bool("v", false, "log at debug level to stderr")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: skiff consume --topic T [--group G] [--from-beginning] [--exit-at-end] [--count N] [--format F]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *topic == "" || fs.NArg() > 0 || *count < 0 {
		fs.Usage()
		return 2
	}
	out, err := parseRecordFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "skiff consume: %v\n", err)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	addrs := splitBrokers(*brokers)

	// End offsets (and the partition list) come from the cluster at start:
	// --exit-at-end stops at the end as of now, not a moving target.
	admin, err := newAdminClient(addrs, logger)
	if err != nil {
		fmt.Fprintf(stderr, "skiff consume: %v\n", err)
		return 1
	}
	defer admin.Close()
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	info, err := admin.Topic(mctx, *topic)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "skiff consume: %v\n", err)
		return 1
	}
	var ends map[int32]int64
	if *exitAtEnd {
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ends, err = listOffsets(ectx, admin, *topic, info.Partitions, -1)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "skiff consume: end offsets: %v\n", err)
			return 1
		}
	}

	cfg := consumer.Config{Brokers: addrs, ClientID: "skiff-consume", Logger: logger}
	if *fromStart {
		cfg.AutoOffsetReset = "earliest"
	}
	if *group != "" {
		cfg.GroupID = *group
		cfg.Topics = []string{*topic}
	} else {
		start := consumer.OffsetLatest
		if *fromStart {
			start = consumer.OffsetEarliest
		}
		var ps []consumer.TopicPartitionOffset
		for _, p := range info.Partitions {
			ps = append(ps, consumer.TopicPartitionOffset{Partition: p.Partition, Offset: start, LeaderEpoch: -1})
		}
		cfg.Assign = map[string][]consumer.TopicPartitionOffset{*topic: ps}
	}
	c, err := consumer.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "skiff consume: %v\n", err)
		return 2
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	code := consumeLoop(ctx, c, w, out, *count, ends, stderr)
	if err := w.Flush(); err != nil && code == 0 {
		code = 1
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(cctx); err != nil {
		fmt.Fprintf(stderr, "skiff consume: close: %v\n", err)
	}
	return code
}

func consumeLoop(ctx context.Context, c *consumer.Consumer, w *bufio.Writer, format recordFormat, count int, ends map[int32]int64, stderr io.Writer) int {
	printed := 0
	var buf []byte
	for {
		if ends != nil && reachedEnd(c, ends) {
			return 0
		}
		pctx := ctx
		var cancel context.CancelFunc = func() {}
		if ends != nil {
			// Wake up regularly to notice the end even when nothing arrives.
			pctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
		}
		recs, err := c.Poll(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return 0 // interrupted: a clean exit, as kcat does
		case errors.Is(err, context.DeadlineExceeded):
			continue
		case err != nil:
			fmt.Fprintf(stderr, "skiff consume: %v\n", err)
			if errors.Is(err, consumer.ErrFenced) || errors.Is(err, consumer.ErrClosed) {
				return 1
			}
			continue
		}
		for i := range recs {
			buf = format.append(buf[:0], &recs[i])
			if _, err := w.Write(buf); err != nil {
				fmt.Fprintf(stderr, "skiff consume: write: %v\n", err)
				return 1
			}
			printed++
			if count > 0 && printed >= count {
				return 0
			}
		}
		if w.Buffered() > 0 && len(recs) < 500 {
			if err := w.Flush(); err != nil {
				return 1
			}
		}
	}
}

// reachedEnd reports whether every assigned partition's position reached
// its end offset from the start of the run.
func reachedEnd(c *consumer.Consumer, ends map[int32]int64) bool {
	assigned := c.Assignment()
	if len(assigned) == 0 {
		return false
	}
	for _, tp := range assigned {
		pos, err := c.Position(tp.Topic, tp.Partition)
		if err != nil || pos < 0 || pos < ends[tp.Partition] {
			return false
		}
	}
	return true
}

// recordFormat is a compiled --format: literal text and verbs.
type recordFormat []formatPart

type formatPart struct {
	lit  string
	verb byte // 0 for a literal
}

func parseRecordFormat(s string) (recordFormat, error) {
	var f recordFormat
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f = append(f, formatPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 't':
				lit.WriteByte('\t')
			case 'n':
				lit.WriteByte('\n')
			case 'r':
				lit.WriteByte('\r')
			case '\\':
				lit.WriteByte('\\')
			default:
				lit.WriteByte('\\')
				lit.WriteByte(s[i])
			}
		case ch == '%' && i+1 < len(s):
			i++
			switch v := s[i]; v {
			case '%':
				lit.WriteByte('%')
			case 'k', 'v', 'p', 'o', 't', 'T', 'h':
				flush()
				f = append(f, formatPart{verb: v})
			default:
				return nil, fmt.Errorf("unknown format verb %%%c (want %%k %%v %%p %%o %%t %%T %%h %%%%)", v)
			}
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return f, nil
}

func (f recordFormat) append(dst []byte, r *consumer.Record) []byte {
	for _, p := range f {
		switch p.verb {
		case 0:
			dst = append(dst, p.lit...)
		case 'k':
			dst = append(dst, r.Key...)
		case 'v':
			dst = append(dst, r.Value...)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 't':
			dst = append(dst, r.Topic...)
		case 'T':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, '=')
				dst = append(dst, h.Value...)
			}
		}
	}
	return dst
}
