package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAppendRequestGolden(t *testing.T) {
	// Round trip through the fake broker's independent parser, and pin
	// the header bytes by hand.
	tests := []struct {
		name    string
		req     kmsg.Request
		version int16
		flex    bool
	}{
		{"metadata v1 header v1", kmsg.NewPtrMetadataRequest(), 1, false},
		{"metadata v12 header v2", kmsg.NewPtrMetadataRequest(), 12, true},
		{"apiversions v3 header v2", kmsg.NewPtrApiVersionsRequest(), 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.SetVersion(tt.version)
			f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("cid"))
			b := encodeRequest([]byte{0xEE, 0xEE, 0xEE}, f, tt.req)
			binary.BigEndian.PutUint32(b[corrIDOffset:], 42)
			require.Equal(t, uint32(len(b)-4), binary.BigEndian.Uint32(b))
			want := binary.BigEndian.AppendUint16(nil, uint16(tt.req.Key()))
			want = binary.BigEndian.AppendUint16(want, uint16(tt.version))
			want = binary.BigEndian.AppendUint32(want, 42)
			want = append(want, 0, 3, 'c', 'i', 'd')
			if tt.flex {
				want = append(want, 0)
			}
			assert.Equal(t, want, b[4:4+len(want)])
			got, corrID, err := parseRequestFrame(b[4:])
			require.NoError(t, err)
			assert.Equal(t, int32(42), corrID)
			assert.Equal(t, tt.version, got.GetVersion())
			assert.Equal(t, tt.req.Key(), got.Key())
		})
	}
}

func TestParseResponseHeader(t *testing.T) {
	tests := []struct {
		name     string
		frame    []byte
		flexible bool
		corrID   int32
		body     []byte
		err      error
	}{
		{"v0", []byte{0, 0, 0, 7, 1, 2}, false, 7, []byte{1, 2}, nil},
		{"v1 no tags", []byte{0, 0, 0, 7, 0, 1, 2}, true, 7, []byte{1, 2}, nil},
		{"v1 one tag skipped", []byte{0, 0, 0, 7, 1, 5, 2, 9, 9, 1}, true, 7, []byte{1}, nil},
		{"short", []byte{0, 0, 7}, false, 0, nil, errShortFrame},
		{"v1 missing tag count", []byte{0, 0, 0, 7}, true, 7, nil, errBadTags},
		{"v1 tag overruns", []byte{0, 0, 0, 7, 1, 5, 9, 1}, true, 7, nil, errBadTags},
		{"v1 absurd tag count", []byte{0, 0, 0, 7, 0xff, 0xff, 0x03}, true, 7, nil, errBadTags},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			corrID, body, err := parseResponseHeader(tt.frame, tt.flexible)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.corrID, corrID)
			assert.Equal(t, tt.body, body)
		})
	}
}

func TestReadFrameSize(t *testing.T) {
	var buf [4]byte
	tests := []struct {
		name string
		in   []byte
		size int32
		err  error
	}{
		{"ok", []byte{0, 0, 0, 8}, 8, nil},
		{"at limit", []byte{0, 0, 4, 0}, 1024, nil},
		{"over limit", []byte{0, 0, 4, 1}, 0, ErrResponseTooLarge},
		{"negative", []byte{0xff, 0, 0, 0}, 0, errNegativeSize},
		{"no room for corr id", []byte{0, 0, 0, 3}, 0, errShortFrame},
		{"truncated", []byte{0, 0}, 0, io.ErrUnexpectedEOF},
		{"eof", nil, 0, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size, err := readFrameSize(bytes.NewReader(tt.in), &buf, 1024)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.size, size)
		})
	}
}

// chunkReader returns its data in chunks of the given sizes (cycling), the
// way TCP delivers a stream, so that parsers see every split point.
type chunkReader struct {
	data   []byte
	chunks []byte
	i      int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.chunks) > 0 {
		n = int(r.chunks[r.i%len(r.chunks)])%64 + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzResponseFrames feeds arbitrary bytes, split into arbitrary chunks, to
// the response frame reader and header parser, and decodes the bodies as the
// responses the client most often reads. Nothing may panic, and every frame
// must either parse or fail with an error.
func FuzzResponseFrames(f *testing.F) {
	valid := func(corrID int32, flexible bool, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, 0)
		b = binary.BigEndian.AppendUint32(b, uint32(corrID))
		if flexible {
			b = append(b, 0)
		}
		b = append(b, body...)
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		return b
	}
	md := kmsg.NewPtrMetadataResponse()
	md.SetVersion(12)
	md.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 1, Host: "h", Port: 9092}}
	av := apiVersionsReply(3, map[int16][2]int16{0: {3, 11}, 18: {0, 4}})
	f.Add([]byte{1}, valid(1, true, md.AppendTo(nil)), uint8(12))
	f.Add([]byte{3, 7}, valid(2, false, av.AppendTo(nil)), uint8(3))
	f.Add([]byte{}, []byte{0, 0, 0, 4, 0, 0, 0, 1}, uint8(0))
	f.Add([]byte{2}, []byte{0x7f, 0xff, 0xff, 0xff}, uint8(0))
	f.Add([]byte{5}, []byte{0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}, uint8(9))
	f.Fuzz(func(t *testing.T, chunks, data []byte, version uint8) {
		r := &chunkReader{data: data, chunks: chunks}
		var buf [4]byte
		corrID := int32(0)
		for {
			size, err := readFrameSize(r, &buf, 1<<16)
			if err != nil {
				if size != 0 {
					t.Fatalf("size %d with error %v", size, err)
				}
				return
			}
			frame, err := readFrame(r, int(size))
			if err != nil {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("short frame: %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			if len(frame) != int(size) || cap(frame) != int(size) {
				t.Fatalf("frame of %d bytes (cap %d), want %d", len(frame), cap(frame), size)
			}
			corrID++
			for _, req := range []kmsg.Request{kmsg.NewPtrMetadataRequest(), kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrFindCoordinatorRequest()} {
				req.SetVersion(int16(version) % (req.MaxVersion() + 1))
				p := &pending{req: req, version: req.GetVersion(), corrID: int32(binary.BigEndian.Uint32(frame))}
				resp, err := decodeResponse(p, frame)
				if err == nil && resp == nil {
					t.Fatal("nil response without error")
				}
				if err != nil && !errors.Is(err, errFatalFrame) && !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("unclassified error %v", err)
				}
				p.corrID++ // a mismatch must be caught, never accepted
				if _, err := decodeResponse(p, frame); !errors.Is(err, errFatalFrame) {
					t.Fatalf("correlation mismatch accepted: %v", err)
				}
			}
		}
	})
}
