package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/properties"
	"github.com/skiffkit/skiff/sasl"
)

func init() {
	register("consume", "print records of a topic (assign mode, or a consumer group with --group)", runConsume)
}

func runConsume(ctx context.Context, args []string) int {
	return consumeMain(ctx, args, os.Stdout, os.Stderr)
}

const defaultConsumeFormat = `%k\t%v\t%p\t%o\n`

var consumeUsage = usageText{
	synopsis: []string{"skiff consume --topic T [--group G] [flags]"},
	about: "Prints the records of a topic to stdout, one per --format. Without --group every partition is\n" +
		"assigned directly and nothing is committed; with --group the consumer joins the group.\n" +
		"A topic that does not exist is an error at once unless --wait is given.\n" +
		"Kafka consumer properties come from --config FILE and -X key=value (security.protocol, sasl.*,\n" +
		"ssl.*, group.id, ...); -X overrides the file and explicit flags override both.",
	examples: []string{
		"skiff consume --topic orders --from-beginning --exit-at-end",
		"skiff consume --topic orders --group billing --count 10",
		"skiff consume --topic orders --format '%t[%p]@%o %k=%v\\n'",
		"skiff consume --topic not-yet-created --wait",
		"skiff consume --topic orders --config client.properties -X group.id=billing",
	},
}

func consumeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const cmd = "skiff consume"
	fs := newFlagSet(cmd, consumeUsage, stdout, stderr)
	var (
		brokers   = fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers (bootstrap.servers)")
		topic     = fs.String("topic", "", "topic to consume (required)")
		group     = fs.String("group", "", "consumer group (group.id); without it every partition is assigned directly")
		fromStart = fs.Bool("from-beginning", false, "start at the earliest offset when there is no committed offset (auto.offset.reset=earliest)")
		exitAtEnd = fs.Bool("exit-at-end", false, "exit once every consumed partition reached the end offset it had at start")
		count     = fs.Int("count", 0, "exit after this many records (0: no limit)")
		format    = fs.String("format", defaultConsumeFormat, "output format: %k key, %v value, %p partition, %o offset, %t topic, %T timestamp (ms), %h headers, %% percent; \\t \\n \\\\ escapes")
		autoTopic = fs.Bool("auto-create", true, "allow.auto.create.topics: let a broker with auto.create.topics.enable create a missing topic (the consumer's default)")
		wait      = fs.Bool("wait", false, "wait for an unreachable broker or a missing topic (for up to --max-wait) instead of failing at once")
		maxWait   = fs.Duration("max-wait", 60*time.Second, "how long --wait waits")
		verbose   = fs.Bool("v", false, "log at debug level to stderr")
		pf        = addPropsFlags(fs)
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	switch {
	case *topic == "":
		return usageErr(stderr, cmd, "missing required flag --topic")
	case len(pos) > 0:
		return usageErr(stderr, cmd, "unexpected argument %q", pos[0])
	case *count < 0:
		return usageErr(stderr, cmd, "--count must not be negative")
	case *maxWait <= 0:
		return usageErr(stderr, cmd, "--max-wait must be positive")
	}
	out, err := parseRecordFormat(*format)
	if err != nil {
		return usageErr(stderr, cmd, "--format: %v", err)
	}
	props, err := pf.merge(baseProps("skiff-consume"))
	if err != nil {
		return usageErr(stderr, cmd, "%v", err)
	}
	cfg, err := properties.Consumer(props)
	if err != nil {
		return usageErr(stderr, cmd, "%v", err)
	}
	// Flags given on the command line win over --config and -X.
	given := givenFlags(fs.FlagSet)
	if given["brokers"] {
		cfg.Brokers = splitBrokers(*brokers)
	}
	if given["group"] {
		cfg.GroupID = *group
	}
	if given["from-beginning"] {
		cfg.AutoOffsetReset = "latest"
		if *fromStart {
			cfg.AutoOffsetReset = "earliest"
		}
	}
	if given["auto-create"] {
		cfg.DisableAutoTopicCreation = !*autoTopic
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := reachSeeds(ctx, cfg.Brokers, *wait, *maxWait, stderr); err != nil {
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %s\n", cmd, humanError(err))
		return 1
	}

	// The partition list and end offsets come from the cluster at start:
	// --exit-at-end stops at the end as of now, not a moving target. This
	// metadata client connects as the consumer will (TLS, SASL) and asks
	// for the topic as the consumer would, auto-creation included, which
	// package admin never does.
	meta, err := wire.NewClient(wire.Config{SeedBrokers: cfg.Brokers, ClientID: cfg.ClientID, Logger: quietLogger(stderr, *verbose),
		AllowAutoTopicCreation: !cfg.DisableAutoTopicCreation, TLS: cfg.TLS, SASL: wire.SASLFrom[sasl.Session](cfg.SASL)})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	defer meta.Close()
	info, err := awaitTopic(ctx, meta, *topic, *wait, *maxWait, stderr)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %s\n", cmd, humanError(err))
		return 1
	}
	var ends map[int32]int64
	if *exitAtEnd {
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ends, err = endOffsets(ectx, cfg, *topic, quietLogger(stderr, *verbose))
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "%s: end offsets: %s\n", cmd, humanError(err))
			return 1
		}
	}

	if cfg.GroupID != "" {
		cfg.Topics = []string{*topic}
	} else {
		// Assign mode: auto.offset.reset (--from-beginning) picks where to
		// start, as there is no committed offset to resume from.
		start := consumer.OffsetLatest
		if cfg.AutoOffsetReset == "earliest" {
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
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 2
	}
	var notes io.Writer = io.Discard
	if isTerminal(stderr) {
		notes = stderr
	}
	if cfg.GroupID != "" {
		// A join can take the broker's group.initial.rebalance.delay.ms
		// (3 s on a stock Kafka) plus a rebalance: say what is happening.
		fmt.Fprintf(notes, "joining group %s…\n", cfg.GroupID)
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	code = consumeLoop(ctx, c, w, out, *count, ends, stderr, joinNote(notes, cfg.GroupID))
	if err := w.Flush(); err != nil && code == 0 {
		code = 1
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(cctx); err != nil {
		fmt.Fprintf(stderr, "%s: close: %s\n", cmd, humanError(err))
	}
	return code
}

// quietLogger is the admin client's logger: its per-retry warnings are
// replaced by the command's own one-line messages unless -v asks for them.
func quietLogger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelError
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// joinNote returns a function consumeLoop calls after each Poll: it
// writes "joined group G: N partitions" once the first assignment arrives.
func joinNote(w io.Writer, group string) func(*consumer.Consumer) {
	if group == "" || w == io.Discard {
		return func(*consumer.Consumer) {}
	}
	done := false
	return func(c *consumer.Consumer) {
		if done {
			return
		}
		if n := len(c.Assignment()); n > 0 {
			done = true
			fmt.Fprintf(w, "joined group %s: assigned %s\n", group, plural(n, "partition"))
		}
	}
}

// awaitTopic returns the topic's metadata. A topic the cluster does not
// know is reported at once; with wait it is asked for again every second
// (a producer or an auto-creating broker may create it) until maxWait,
// after one line saying so.
func awaitTopic(ctx context.Context, cl *wire.Client, topic string, wait bool, maxWait time.Duration, stderr io.Writer) (wire.TopicInfo, error) {
	deadline := time.Now().Add(maxWait)
	said := false
	for {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		md, err := cl.Metadata(mctx, []string{topic})
		cancel()
		if err != nil {
			return wire.TopicInfo{}, err
		}
		ti, ok := md.Topics[topic]
		terr := ti.Err
		if !ok {
			terr = kerr.UnknownTopicOrPartition
		}
		if terr == nil && len(ti.Partitions) > 0 {
			return ti, nil
		}
		missing := errors.Is(terr, kerr.UnknownTopicOrPartition)
		if terr == nil {
			terr = errors.New("it has no partitions")
		}
		if !missing && !errors.Is(terr, kerr.LeaderNotAvailable) {
			return wire.TopicInfo{}, fmt.Errorf("topic %s: %w", topic, terr)
		}
		// LEADER_NOT_AVAILABLE (or no partitions yet) for a topic just
		// asked about is how Kafka answers while it auto-creates it: say
		// so and wait, --wait or not.
		creating := !missing
		switch {
		case said:
		case creating:
			fmt.Fprintf(stderr, "topic %s is being created by the broker (auto.create.topics.enable); waiting up to %v for it…\n", topic, maxWait)
		case !wait:
			return wire.TopicInfo{}, fmt.Errorf("topic %s does not exist (%w); create it with 'skiff topics create %s' or pass --wait to wait for it", topic, terr, topic)
		default:
			fmt.Fprintf(stderr, "topic %s does not exist yet; waiting up to %v for it to be created…\n", topic, maxWait)
		}
		said = true
		if time.Now().After(deadline) {
			return wire.TopicInfo{}, fmt.Errorf("topic %s is still not available after %v: %w", topic, maxWait, terr)
		}
		backoff := time.Second
		if creating {
			backoff = 100 * time.Millisecond // a creation takes a moment, not seconds
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return wire.TopicInfo{}, ctx.Err()
		case <-t.C:
		}
	}
}

func consumeLoop(ctx context.Context, c *consumer.Consumer, w *bufio.Writer, format recordFormat, count int, ends map[int32]int64, stderr io.Writer, afterPoll func(*consumer.Consumer)) int {
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
		afterPoll(c)
		switch {
		case ctx.Err() != nil:
			return 0 // interrupted: a clean exit, as kcat does
		case errors.Is(err, context.DeadlineExceeded):
			continue
		case err != nil:
			fmt.Fprintf(stderr, "skiff consume: %s\n", humanError(err))
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

// endOffsets returns the high watermark of every partition of topic,
// asked through package admin with the consumer's connection settings.
func endOffsets(ctx context.Context, cfg consumer.Config, topic string, logger *slog.Logger) (map[int32]int64, error) {
	adm, err := admin.New(admin.Config{Brokers: cfg.Brokers, ClientID: cfg.ClientID, TLS: cfg.TLS, SASL: cfg.SASL, Logger: logger})
	if err != nil {
		return nil, err
	}
	defer adm.Close(context.Background())
	ls, err := adm.ListOffsets(ctx, admin.Latest, topic)
	if err != nil {
		return nil, err
	}
	if err := ls.Error(); err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(ls))
	for _, l := range ls {
		out[l.Partition] = l.Offset
	}
	return out, nil
}
