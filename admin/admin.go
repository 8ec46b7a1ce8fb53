package admin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/sasl"
)

// Client administers a Kafka cluster: topics, configs, offsets, consumer
// groups and cluster metadata. It is safe for concurrent use. Every method
// takes a context that bounds the whole call, retries included.
type Client struct {
	cfg Config
	cl  *wire.Client

	mu     sync.Mutex // guards closed
	closed bool
}

// New validates cfg and returns a Client. It does not dial: the first
// request does.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cl, err := wire.NewClient(wire.Config{
		SeedBrokers:    cfg.Brokers,
		ClientID:       cfg.ClientID,
		DialTimeout:    cfg.DialTimeout,
		RequestTimeout: cfg.RequestTimeout,
		MetadataMaxAge: cfg.MetadataMaxAge,
		RetryBackoff:   cfg.RetryBackoff,
		Logger:         cfg.Logger,
		TLS:            cfg.TLS,
		SASL:           wire.SASLFrom[sasl.Session](cfg.SASL),
		// An admin client never creates topics by looking at them.
		AllowAutoTopicCreation: false,
	})
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return &Client{cfg: cfg, cl: cl}, nil
}

// Close closes every connection and returns once the client's goroutines
// have exited. Requests in flight fail with errors wrapping ErrConnClosed. Close is idempotent: later calls return
// nil. The client holds no state worth flushing, so ctx is only honoured
// for symmetry with producer and consumer.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	return c.cl.Close()
}

func (c *Client) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return nil
}

// itemErr turns a per-item error code and message into an error wrapping
// the kerr value, with the broker's explanation when it gave one.
func itemErr(code int16, msg *string) error {
	err := kerr.ForCode(code)
	if err == nil {
		return nil
	}
	if msg != nil && *msg != "" {
		return fmt.Errorf("%w (%s)", err, *msg)
	}
	return err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxAttempts bounds the resends of one admin request after NOT_CONTROLLER,
// NOT_COORDINATOR, a loading coordinator or (read-only requests) a lost
// connection; ctx bounds them in time.
const maxAttempts = 5

// retriableConn reports whether err is a lost connection, after which a
// read-only request is safe to send again.
func retriableConn(err error) bool { return errors.Is(err, wire.ErrConnClosed) }

// anyBroker sends a read-only request to any broker, resending it after a lost
// connection, as the Java AdminClient does for every call within
// default.api.timeout.ms.
func (c *Client) anyBroker(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := sleep(ctx, c.cfg.RetryBackoff); err != nil {
				return nil, fmt.Errorf("%w (gave up: %w)", lastErr, err)
			}
		}
		resp, err := c.cl.Request(ctx, req)
		if err == nil || !retriableConn(err) {
			return resp, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// node sends a request to one broker; readOnly requests are resent after a
// lost connection.
func (c *Client) node(ctx context.Context, node int32, req kmsg.Request, readOnly bool) (kmsg.Response, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := sleep(ctx, c.cfg.RetryBackoff); err != nil {
				return nil, fmt.Errorf("%w (gave up: %w)", lastErr, err)
			}
		}
		resp, err := c.cl.RequestNode(ctx, node, req)
		if err == nil || !readOnly || !retriableConn(err) {
			return resp, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// controller sends a topic-admin request to the controller (Kafka routes
// CreateTopics, DeleteTopics and CreatePartitions there; a KRaft broker
// forwards them, so any broker named as controller in Metadata will do).
// notController reports whether the response says the node is no longer
// the controller; the request then goes again to the controller named by
// fresh metadata, as the Java AdminClient does.
func (c *Client) controller(ctx context.Context, req kmsg.Request, notController func(kmsg.Response) bool) (kmsg.Response, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	fresh := false
	for attempt := 0; ; attempt++ {
		id := c.cl.ControllerID()
		if id < 0 || fresh {
			md, err := c.cl.Metadata(ctx, []string{})
			if err != nil {
				return nil, fmt.Errorf("admin: finding the controller: %w", err)
			}
			id = md.ControllerID
		}
		var (
			resp kmsg.Response
			err  error
		)
		if id < 0 {
			// Metadata v0 names no controller; the broker we reach
			// answers NOT_CONTROLLER if it cannot serve the request.
			resp, err = c.cl.Request(ctx, req)
		} else {
			resp, err = c.cl.RequestNode(ctx, id, req)
		}
		if err != nil {
			return nil, err
		}
		if attempt+1 >= maxAttempts || !notController(resp) {
			return resp, nil
		}
		fresh = true
		if err := sleep(ctx, c.cfg.RetryBackoff); err != nil {
			return resp, nil
		}
	}
}

// coordinator sends a request about group to its coordinator. code returns
// the group-level error code of the response: NOT_COORDINATOR and
// COORDINATOR_NOT_AVAILABLE look the coordinator up again,
// COORDINATOR_LOAD_IN_PROGRESS waits, and both resend (KIP-496's rules for
// the Java AdminClient's group calls). readOnly requests are also resent
// after a lost connection.
func (c *Client) coordinator(ctx context.Context, group string, req kmsg.Request, readOnly bool, code func(kmsg.Response) int16) (kmsg.Response, int32, error) {
	if err := c.checkOpen(); err != nil {
		return nil, -1, err
	}
	var lastErr error
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := sleep(ctx, c.cfg.RetryBackoff); err != nil {
				return nil, -1, fmt.Errorf("%w (gave up: %w)", lastErr, err)
			}
		}
		node, err := c.cl.Coordinator(ctx, group, wire.CoordinatorGroup)
		if err != nil {
			return nil, -1, fmt.Errorf("admin: coordinator of group %q: %w", group, err)
		}
		resp, err := c.cl.RequestNode(ctx, node, req)
		if err != nil {
			if readOnly && retriableConn(err) {
				c.cl.InvalidateCoordinator(group)
				lastErr = err
				continue
			}
			return nil, node, err
		}
		switch code(resp) {
		case kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code:
			c.cl.InvalidateCoordinator(group)
			lastErr = kerr.ForCode(code(resp))
			continue
		case kerr.CoordinatorLoadInProgress.Code:
			lastErr = kerr.CoordinatorLoadInProgress
			continue
		}
		return resp, node, nil
	}
	return nil, -1, fmt.Errorf("admin: group %q: %w", group, lastErr)
}

// metadata asks any broker for the metadata of topics (nil: every topic).
// It is sent directly rather than through the wire cache because admin
// needs fields the cache drops (is_internal, offline replicas).
func (c *Client) metadata(ctx context.Context, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(topics))
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	req.AllowAutoTopicCreation = false
	// Metadata v0 has no way to ask for every topic except an empty list,
	// and no allow-auto-create flag; v1 is in every broker since 0.10.
	kresp, err := c.anyBroker(ctx, wire.MinVersion(req, 1))
	if err != nil {
		return nil, fmt.Errorf("admin: metadata: %w", err)
	}
	resp, ok := kresp.(*kmsg.MetadataResponse)
	if !ok {
		return nil, fmt.Errorf("admin: metadata: %w: got %T", ErrMalformedResponse, kresp)
	}
	if err := itemErr(resp.ErrorCode, nil); err != nil {
		return nil, fmt.Errorf("admin: metadata: %w", err)
	}
	return resp, nil
}
