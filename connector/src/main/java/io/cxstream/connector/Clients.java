package io.cxstream.connector;

import java.util.Properties;
import java.util.function.Supplier;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Creates Kafka clients so that they work inside Flink's user-code classloader. */
public final class Clients {

    private Clients() {}

    /**
     * Runs {@code create} with the thread context classloader set to the one that loaded the Kafka
     * client. Why: the client resolves class-valued configs (serializers, partitioners, metric
     * reporters, SASL callback handlers) through the context classloader, but Flink's task threads
     * carry the framework's loader, which cannot see kafka-clients shipped via pipeline.jars.
     */
    public static <T> T withKafkaClassLoader(Supplier<T> create) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(KafkaConsumer.class.getClassLoader());
        try {
            return create.get();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    /** A byte[] consumer for assign()-mode reading: never auto-commits, never joins a group. */
    public static KafkaConsumer<byte[], byte[]> consumer(Properties tableProps, String clientId) {
        Properties props = new Properties();
        props.putAll(tableProps);
        props.remove(KafkaOptions.COMMIT_OFFSETS_ON_CHECKPOINT);
        // Offsets live in Flink's checkpoints; the group's committed offsets are only a copy that
        // the reader writes explicitly after a checkpoint completes.
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.putIfAbsent(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        // Latency first: how long a fetch may wait for data. The default (500 ms) is what a fetch
        // waited on the local broker even when records were there; 20 ms took the pass-through
        // job's p50 from 200 to 80 ms at 2,000 events/s (README, "Benchmarks"). On a busy cluster
        // fetches return as soon as data arrives, and an idle one pays a few more empty fetches.
        props.putIfAbsent(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "20");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        return withKafkaClassLoader(() ->
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer()));
    }

    /** A byte[] producer with at-least-once settings unless the table overrides them. */
    public static KafkaProducer<byte[], byte[]> producer(Properties tableProps, String clientId) {
        Properties props = new Properties();
        props.putAll(tableProps);
        props.remove(KafkaOptions.COMMIT_OFFSETS_ON_CHECKPOINT);
        // Consumer-only settings (group.id, isolation.level, ...) in a shared 'properties.*' set
        // would only produce "unknown config" warnings; drop the common ones.
        for (String consumerOnly : new String[] {"group.id", "auto.offset.reset", "isolation.level",
                "enable.auto.commit", "partition.discovery.interval.ms", "client.id.prefix"}) {
            props.remove(consumerOnly);
        }
        props.putIfAbsent(ProducerConfig.ACKS_CONFIG, "all");
        // Give up on a send after 30 s (Kafka's default is 120 s) so that a broker that is gone, or
        // came back without this producer's id (the local broker after a restart answers
        // UNKNOWN_PRODUCER_ID forever), fails the job soon; Flink then restarts it from the last
        // checkpoint, which is at-least-once and loses nothing.
        props.putIfAbsent(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        props.putIfAbsent(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        return withKafkaClassLoader(() ->
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer()));
    }
}
