package io.cxstream.connector.source;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.cxstream.connector.Clients;

/**
 * Copies checkpointed offsets to the consumer group, for monitoring (lag) and for 'group-offsets'
 * starts. Uses its own consumer on its own thread: the fetching consumer belongs to the fetcher
 * thread and KafkaConsumer is not thread-safe, and a slow commit must not stall the task thread.
 * A failed commit is only logged: Flink's checkpoints, not the group, are the source of truth.
 */
final class OffsetCommitter implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OffsetCommitter.class);

    private final Properties props;
    private final String clientId;
    private final ExecutorService thread;
    private KafkaConsumer<byte[], byte[]> consumer;   // only touched on 'thread'

    OffsetCommitter(Properties props, String clientId) {
        this.props = props;
        this.clientId = clientId;
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cx-kafka-offset-committer-" + clientId);
            t.setDaemon(true);
            return t;
        });
    }

    void commit(long checkpointId, Map<TopicPartition, OffsetAndMetadata> offsets) {
        if (offsets.isEmpty()) {
            return;
        }
        thread.execute(() -> {
            try {
                if (consumer == null) {
                    consumer = Clients.consumer(props, clientId);
                }
                consumer.commitSync(offsets, Duration.ofSeconds(30));
                LOG.debug("Committed offsets of checkpoint {}: {}", checkpointId, offsets);
            } catch (Exception e) {
                LOG.warn("Could not commit the offsets of checkpoint {} to the group (reading is not affected)",
                        checkpointId, e);
            }
        });
    }

    @Override
    public void close() throws InterruptedException {
        thread.execute(() -> {
            if (consumer != null) {
                consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
            }
        });
        thread.shutdown();
        thread.awaitTermination(10, TimeUnit.SECONDS);
    }
}
