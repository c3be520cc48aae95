package io.cxstream.connector.source;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.cxstream.connector.Clients;

/**
 * Reads the partitions assigned to one reader with a single KafkaConsumer in assign() mode (no
 * group membership: Flink, not the group coordinator, decides who reads what). Runs in the
 * source's fetcher thread, which is the only thread that touches the consumer, except for
 * {@link #wakeUp()}, the one KafkaConsumer method that is safe to call from another thread.
 */
final class PartitionSplitReader implements SplitReader<ConsumerRecord<byte[], byte[]>, PartitionSplit> {

    private static final Logger LOG = LoggerFactory.getLogger(PartitionSplitReader.class);
    /** Short enough that new splits and shutdown are picked up quickly, long enough not to spin. */
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(200);

    private final KafkaConsumer<byte[], byte[]> consumer;
    /** Stopping offsets (exclusive) of the bounded splits being read. */
    private final Map<TopicPartition, Long> stoppingOffsets = new HashMap<>();
    /** Bounded splits that were already complete when assigned; reported at the next fetch. */
    private final Set<String> finishedOnArrival = new HashSet<>();

    PartitionSplitReader(Properties props, String clientId) {
        this.consumer = Clients.consumer(props, clientId);
    }

    @Override
    public RecordsWithSplitIds<ConsumerRecord<byte[], byte[]>> fetch() {
        Set<String> finished = new HashSet<>(finishedOnArrival);
        finishedOnArrival.clear();
        Map<String, Collection<ConsumerRecord<byte[], byte[]>>> bySplit = new HashMap<>();
        if (consumer.assignment().isEmpty()) {
            return new RecordsBySplits<>(bySplit, finished);
        }
        ConsumerRecords<byte[], byte[]> records;
        try {
            records = consumer.poll(POLL_TIMEOUT);
        } catch (WakeupException e) {
            return new RecordsBySplits<>(bySplit, finished);
        }
        for (TopicPartition tp : records.partitions()) {
            List<ConsumerRecord<byte[], byte[]>> batch = records.records(tp);
            Long stop = stoppingOffsets.get(tp);
            if (stop != null && !batch.isEmpty() && batch.get(batch.size() - 1).offset() >= stop) {
                List<ConsumerRecord<byte[], byte[]>> kept = new ArrayList<>(batch.size());
                for (ConsumerRecord<byte[], byte[]> r : batch) {
                    if (r.offset() < stop) {
                        kept.add(r);
                    }
                }
                batch = kept;
            }
            bySplit.put(PartitionSplit.idOf(tp.topic(), tp.partition()), batch);
        }
        // A bounded split is done once the consumer's position has reached its stopping offset;
        // the position (not the last record) also covers offsets with no record behind them,
        // such as transaction markers and compacted-away records.
        if (!stoppingOffsets.isEmpty()) {
            List<TopicPartition> done = new ArrayList<>();
            try {
                for (Map.Entry<TopicPartition, Long> e : stoppingOffsets.entrySet()) {
                    if (consumer.position(e.getKey()) >= e.getValue()) {
                        done.add(e.getKey());
                    }
                }
            } catch (WakeupException e) {
                // Checked again at the next fetch.
            }
            if (!done.isEmpty()) {
                done.forEach(tp -> {
                    stoppingOffsets.remove(tp);
                    finished.add(PartitionSplit.idOf(tp.topic(), tp.partition()));
                });
                Set<TopicPartition> remaining = new HashSet<>(consumer.assignment());
                done.forEach(remaining::remove);
                consumer.assign(remaining);
            }
        }
        return new RecordsBySplits<>(bySplit, finished);
    }

    @Override
    public void handleSplitsChanges(SplitsChange<PartitionSplit> change) {
        if (!(change instanceof SplitsAddition)) {
            throw new UnsupportedOperationException("Unsupported split change " + change.getClass().getName());
        }
        Set<TopicPartition> assignment = new HashSet<>(consumer.assignment());
        List<PartitionSplit> added = new ArrayList<>();
        for (PartitionSplit split : change.splits()) {
            if (split.isBounded() && split.startingOffset() >= split.stoppingOffset()) {
                finishedOnArrival.add(split.splitId());
                continue;
            }
            assignment.add(split.topicPartition());
            added.add(split);
            if (split.isBounded()) {
                stoppingOffsets.put(split.topicPartition(), split.stoppingOffset());
            }
        }
        consumer.assign(assignment);
        for (PartitionSplit split : added) {
            consumer.seek(split.topicPartition(), split.startingOffset());
            LOG.info("Reading {}", split);
        }
    }

    @Override
    public void pauseOrResumeSplits(Collection<PartitionSplit> toPause, Collection<PartitionSplit> toResume) {
        // Used by Flink's watermark alignment.
        Set<TopicPartition> assignment = consumer.assignment();
        List<TopicPartition> pause = new ArrayList<>();
        List<TopicPartition> resume = new ArrayList<>();
        toPause.forEach(s -> { if (assignment.contains(s.topicPartition())) pause.add(s.topicPartition()); });
        toResume.forEach(s -> { if (assignment.contains(s.topicPartition())) resume.add(s.topicPartition()); });
        consumer.pause(pause);
        consumer.resume(resume);
    }

    @Override
    public void wakeUp() {
        consumer.wakeup();
    }

    @Override
    public void close() {
        consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
    }
}
