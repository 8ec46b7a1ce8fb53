package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSarama(t *testing.T) {
	for _, v := range []sarama.KafkaVersion{sarama.V2_8_0_0, sarama.V3_6_0_0} {
		t.Run(v.String(), func(t *testing.T) {
			b := startBroker(t, Config{NumPartitions: 2})
			cfg := sarama.NewConfig()
			cfg.Version = v
			cfg.Producer.Return.Successes = true
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			cfg.Producer.Compression = sarama.CompressionSnappy
			cfg.Producer.Idempotent = true
			cfg.Net.MaxOpenRequests = 1
			cfg.Producer.Retry.Max = 5

			prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
			require.NoError(t, err)
			defer prod.Close()
			const n = 50
			offsets := map[int32][]int64{}
			for i := range n {
				p, off, err := prod.SendMessage(&sarama.ProducerMessage{
					Topic: "sarama", Key: sarama.StringEncoder(fmt.Sprint(i)), Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)),
				})
				require.NoError(t, err)
				offsets[p] = append(offsets[p], off)
			}
			for p, offs := range offsets {
				for i, off := range offs {
					assert.EqualValues(t, i, off, "partition %d", p)
				}
			}

			cons, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
			require.NoError(t, err)
			defer cons.Close()
			got := map[string]bool{}
			for p, offs := range offsets {
				pc, err := cons.ConsumePartition("sarama", p, sarama.OffsetOldest)
				require.NoError(t, err)
				for range offs {
					select {
					case m := <-pc.Messages():
						got[string(m.Value)] = true
					case err := <-pc.Errors():
						t.Fatal(err)
					case <-time.After(10 * time.Second):
						t.Fatal("sarama consumer timed out")
					}
				}
				pc.Close()
			}
			assert.Len(t, got, n)

			client, err := sarama.NewClient([]string{b.Addr()}, cfg)
			require.NoError(t, err)
			defer client.Close()
			newest, err := client.GetOffset("sarama", 0, sarama.OffsetNewest)
			require.NoError(t, err)
			assert.EqualValues(t, len(offsets[0]), newest)
		})
	}
}

func TestKafkaGo(t *testing.T) {
	for _, codec := range []compress.Compression{0, compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			b := startBroker(t, Config{})
			topic := "kafkago"
			require.NoError(t, b.CreateTopic(topic, 1, nil))
			w := &kafkago.Writer{
				Addr:         kafkago.TCP(b.Addr()),
				Topic:        topic,
				BatchTimeout: 5 * time.Millisecond,
				RequiredAcks: kafkago.RequireAll,
				Compression:  codec,
			}
			defer w.Close()
			const n = 40
			var msgs []kafkago.Message
			for i := range n {
				msgs = append(msgs, kafkago.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i))})
			}
			c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			require.NoError(t, w.WriteMessages(c, msgs...))

			r := kafkago.NewReader(kafkago.ReaderConfig{
				Brokers: []string{b.Addr()}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond,
			})
			defer r.Close()
			for i := range n {
				m, err := r.ReadMessage(c)
				require.NoError(t, err)
				assert.EqualValues(t, i, m.Offset)
				assert.Equal(t, fmt.Sprintf("v%d", i), string(m.Value))
			}

			conn, err := kafkago.DialLeader(c, "tcp", b.Addr(), topic, 0)
			require.NoError(t, err)
			defer conn.Close()
			first, last, err := conn.ReadOffsets()
			require.NoError(t, err)
			assert.EqualValues(t, 0, first)
			assert.EqualValues(t, n, last)
		})
	}
}

// TestKafkaGoAutoCreate: kafka-go's Writer creates topics through
// Metadata v1 auto-creation (no flag before v4).
func TestKafkaGoAutoCreate(t *testing.T) {
	b := startBroker(t, Config{})
	w := &kafkago.Writer{Addr: kafkago.TCP(b.Addr()), Topic: "auto", AllowAutoTopicCreation: true, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, w.WriteMessages(c, kafkago.Message{Value: []byte("x")}))
	require.NotNil(t, b.topics.byName("auto"))
}

func TestKafkaGoConsumerGroup(t *testing.T) {
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	require.NoError(t, b.CreateTopic("kg", 2, nil))
	w := &kafkago.Writer{Addr: kafkago.TCP(b.Addr()), Topic: "kg", BatchTimeout: 5 * time.Millisecond, Balancer: &kafkago.RoundRobin{}}
	defer w.Close()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 20
	for i := range n {
		require.NoError(t, w.WriteMessages(c, kafkago.Message{Value: []byte(fmt.Sprint(i))}))
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: []string{b.Addr()}, GroupID: "kafka-go-group", Topic: "kg",
		MaxWait: 100 * time.Millisecond, StartOffset: kafkago.FirstOffset,
		HeartbeatInterval: 100 * time.Millisecond, CommitInterval: 0,
	})
	defer r.Close()
	got := map[string]bool{}
	for len(got) < n {
		m, err := r.ReadMessage(c) // commits as it reads
		require.NoError(t, err)
		got[string(m.Value)] = true
	}
	assert.Len(t, got, n)
}
