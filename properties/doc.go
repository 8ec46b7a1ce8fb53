// Package properties configures skiff the way Kafka clients are usually
// configured: from Kafka property names such as bootstrap.servers, acks or
// sasl.mechanism, given as a map or read from a Java .properties file (the
// client.properties that Confluent Cloud, Amazon MSK and Aiven hand out).
//
//	props, err := properties.Load("client.properties")
//	cfg, err := properties.Producer(props)
//	p, err := producer.New(cfg)
//
// Producer and Consumer map every property that has a skiff Config field,
// plus the security ones:
//
//   - security.protocol: PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
//   - sasl.mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (librdkafka's
//     sasl.mechanisms is accepted too), with sasl.username and
//     sasl.password, or sasl.jaas.config in the PlainLoginModule or
//     ScramLoginModule form
//   - ssl.ca.location, ssl.certificate.location, ssl.key.location (PEM
//     files; a PEM trust store via ssl.truststore.type=PEM works as well),
//     ssl.endpoint.identification.algorithm (https, the default, or empty
//     to skip only the host name check)
//
// A key skiff does not know is an error naming it, so a typo does not
// silently fall back to a default. A Java-only key (key stores, class
// names, callback handlers) is an error saying what to use instead. Keys
// meant for the other kind of client (group.id given to Producer, acks
// given to Consumer) and the Schema Registry keys found in Confluent's
// files are skipped, because one file usually serves producers, consumers
// and tools alike, as the Java clients allow.
//
// OAUTHBEARER needs a token provider, which is Go code: build the config
// here and set Config.SASL to sasl.OAuthBearer(...) afterwards.
package properties
