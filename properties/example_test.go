package properties_test

import (
	"fmt"
	"log"

	"github.com/skiffkit/skiff/properties"
)

// The client.properties Confluent Cloud hands out, read as is: the
// Schema Registry keys are skipped, the JAAS line becomes sasl.Plain.
func ExampleParse() {
	file := []byte(`# Required connection configs for Kafka producer, consumer, and admin
bootstrap.servers=pkc-abc12.us-east-1.aws.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
    username='ABCDEFGHIJKLMNOP' password='not-a-real-secret';
# Best practice for higher availability in Apache Kafka clients prior to 3.0
session.timeout.ms=45000
acks=all
client.dns.lookup=use_all_dns_ips
# Required connection configs for Confluent Cloud Schema Registry
schema.registry.url=https://psrc-xyz.us-east-2.aws.confluent.cloud
`)
	props, err := properties.Parse(file)
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := properties.Producer(props)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Brokers, cfg.TLS != nil, cfg.SASL)
	// Output: [pkc-abc12.us-east-1.aws.confluent.cloud:9092] true PLAIN(user=ABCDEFGHIJKLMNOP)
}

// A typo is an error naming the key, and Java key stores say what to use.
func ExampleConsumer() {
	_, err := properties.Consumer(map[string]string{
		"bootstrap.servers":       "b-1.msk.example:9094",
		"group.id":                "billing",
		"auto.offset.rest":        "earliest",
		"security.protocol":       "SSL",
		"ssl.truststore.location": "/tmp/kafka.client.truststore.jks",
	})
	fmt.Println(err)
	// Output:
	// properties: auto.offset.rest: unknown property
	// ssl.truststore.location: Java-only setting: Java key stores do not exist in Go: export the CA certificates as PEM (keytool -exportcert -rfc) and set ssl.ca.location
}
