package io.cxstream.connector.source;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.cxstream.connector.Clients;
import io.cxstream.connector.KafkaOptions.StartupMode;

/**
 * Finds the topics' partitions (at start and then periodically), turns each new one into a split
 * with a concrete starting offset, and hands it to the reader that owns it.
 *
 * <p>Ownership is a pure function of (topic, partition, parallelism), so a partition always lands
 * on the same reader, and partitions that appear later spread round-robin after the existing
 * ones. All Kafka calls run in the coordinator's worker thread ({@code callAsync}); the state is
 * only touched in the coordinator thread (the handlers), so no locks are needed.
 */
final class PartitionEnumerator implements SplitEnumerator<PartitionSplit, EnumeratorState> {

    private static final Logger LOG = LoggerFactory.getLogger(PartitionEnumerator.class);
    /** How long {@link #endOffsets} waits for fetch responses before it fails the job. */
    private static final Duration END_OFFSETS_TIMEOUT = Duration.ofSeconds(120);
    private static final String FETCH_METRICS_GROUP = "consumer-fetch-manager-metrics";

    private final SplitEnumeratorContext<PartitionSplit> context;
    private final CxKafkaSource source;

    /** Split ids handed to a reader (their progress is the reader's state from then on). */
    private final Set<String> assigned;
    /** Splits found but whose reader has not registered yet (or that came back after a failure). */
    private final List<PartitionSplit> pending;
    /** Every split id we know: read by discovery in the worker thread, hence concurrent. */
    private final Set<String> known = ConcurrentHashMap.newKeySet();
    /** Readers told that no more splits will come (bounded mode only). */
    private final Set<Integer> finishedReaders = new HashSet<>();

    private volatile boolean initialDiscoveryDone;
    private KafkaConsumer<byte[], byte[]> metadataConsumer;

    PartitionEnumerator(SplitEnumeratorContext<PartitionSplit> context, CxKafkaSource source, EnumeratorState restored) {
        this.context = context;
        this.source = source;
        this.assigned = new HashSet<>(restored == null ? Set.of() : restored.assignedSplitIds);
        this.pending = new ArrayList<>(restored == null ? List.of() : restored.pending);
        this.initialDiscoveryDone = restored != null && restored.initialDiscoveryDone;
        known.addAll(assigned);
        pending.forEach(s -> known.add(s.splitId()));
    }

    @Override
    public void start() {
        metadataConsumer = Clients.consumer(source.properties, clientId());
        long interval = source.discoveryIntervalMs;
        if (source.bounded || interval <= 0) {
            // A bounded read covers exactly the partitions (and end offsets) seen at start.
            context.callAsync(this::discover, this::onDiscovered);
        } else {
            context.callAsync(this::discover, this::onDiscovered, 0, interval);
        }
    }

    private String clientId() {
        String group = source.properties.getProperty(ConsumerConfig.GROUP_ID_CONFIG, "cx-kafka");
        return group + "-enumerator";
    }

    // ---- discovery (worker thread) ------------------------------------------------------------

    private List<PartitionSplit> discover() {
        List<TopicPartition> fresh = new ArrayList<>();
        for (String topic : source.topics) {
            List<PartitionInfo> infos = metadataConsumer.partitionsFor(topic, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                LOG.warn("Topic '{}' has no partitions (does it exist?); will look again at the next discovery", topic);
                continue;
            }
            for (PartitionInfo info : infos) {
                if (!known.contains(PartitionSplit.idOf(info.topic(), info.partition()))) {
                    fresh.add(new TopicPartition(info.topic(), info.partition()));
                }
            }
        }
        if (fresh.isEmpty()) {
            return List.of();
        }
        // The start mode only applies to the partitions that exist at the first start. Partitions
        // created later are read from their beginning, so none of their records is skipped.
        Map<TopicPartition, Long> start = initialDiscoveryDone
                ? metadataConsumer.beginningOffsets(fresh)
                : startingOffsets(fresh);
        Map<TopicPartition, Long> stop = source.bounded ? endOffsets(fresh) : Map.of();
        List<PartitionSplit> splits = new ArrayList<>();
        for (TopicPartition tp : fresh) {
            long stopAt = source.bounded ? stop.get(tp) : PartitionSplit.NO_STOP;
            splits.add(new PartitionSplit(tp.topic(), tp.partition(), start.get(tp), stopAt));
        }
        return splits;
    }

    private Map<TopicPartition, Long> startingOffsets(Collection<TopicPartition> tps) {
        StartupMode mode = source.startupMode;
        switch (mode) {
            case EARLIEST_OFFSET:
                return metadataConsumer.beginningOffsets(tps);
            case LATEST_OFFSET:
                return endOffsets(tps);
            case TIMESTAMP:
                return offsetsForTime(tps, source.startupTimestampMillis);
            case SPECIFIC_OFFSETS: {
                Map<TopicPartition, Long> earliest = metadataConsumer.beginningOffsets(tps);
                Map<TopicPartition, Long> out = new HashMap<>();
                for (TopicPartition tp : tps) {
                    Long given = source.specificOffsets.get(tp.partition());
                    out.put(tp, given != null ? given : earliest.get(tp));
                }
                return out;
            }
            case GROUP_OFFSETS: {
                if (!source.properties.containsKey(ConsumerConfig.GROUP_ID_CONFIG)) {
                    throw new FlinkRuntimeException("scan.startup.mode 'group-offsets' needs 'properties.group.id'");
                }
                Map<TopicPartition, OffsetAndMetadata> committed = metadataConsumer.committed(new HashSet<>(tps));
                String reset = source.properties.getProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
                List<TopicPartition> missing = new ArrayList<>();
                Map<TopicPartition, Long> out = new HashMap<>();
                for (TopicPartition tp : tps) {
                    OffsetAndMetadata o = committed.get(tp);
                    if (o == null) {
                        missing.add(tp);
                    } else {
                        out.put(tp, o.offset());
                    }
                }
                if (!missing.isEmpty()) {
                    switch (reset) {
                        case "latest": out.putAll(endOffsets(missing)); break;
                        case "earliest": out.putAll(metadataConsumer.beginningOffsets(missing)); break;
                        default:
                            throw new FlinkRuntimeException("Group '" + source.properties.getProperty(ConsumerConfig.GROUP_ID_CONFIG)
                                    + "' has no committed offset for " + missing + " and properties.auto.offset.reset is '"
                                    + reset + "' (use earliest or latest to fall back)");
                    }
                }
                return out;
            }
            default:
                throw new IllegalStateException("unhandled start mode " + mode);
        }
    }

    /**
     * The partitions' end offsets (the offset the next record will get), as the high watermarks
     * that fetch responses carry.
     *
     * <p>Why not just {@code endOffsets()}: some Kafka-protocol brokers (the local Tansu 0.6 used
     * in development, measured) answer ListOffsets(latest) with the base offset of the last batch
     * rather than the high watermark (5 records sent as batches of 1 and 4: end offset 1), so a
     * bounded read would silently miss the last batch. Their fetch responses do carry the right
     * high watermark (5 there). So we seek to the reported end and poll until a fetch response
     * has been processed for every partition; the end is then its position plus its lag, which the
     * consumer takes from that response.
     *
     * <p>Not "poll until a poll comes back empty", as this did before: an empty poll also means
     * that no fetch response arrived within the poll's timeout, and on a loaded machine (load 9-13
     * on 2 cores; or a broker 600 ms away) a bounded alerts run then stopped cx.drift and
     * cx.sentiment at offset 1 and lost their alerts. Waiting is bounded by a deadline that fails
     * the job, rather than a timeout that quietly reads less.
     */
    private Map<TopicPartition, Long> endOffsets(Collection<TopicPartition> tps) {
        Map<TopicPartition, Long> end = new HashMap<>(metadataConsumer.endOffsets(tps));
        // A consumer of its own: the metrics that tell a fetch response apart (see
        // partitionsWithFetchResponse) outlive an assignment of the same partitions, and the
        // metadata consumer may have read these partitions before (LATEST_OFFSET start, bounded).
        try (KafkaConsumer<byte[], byte[]> reader = Clients.consumer(source.properties, clientId() + "-end")) {
            reader.assign(tps);
            end.forEach(reader::seek);
            Set<TopicPartition> waiting = new HashSet<>(tps);
            long deadline = System.nanoTime() + END_OFFSETS_TIMEOUT.toNanos();
            while (!waiting.isEmpty()) {
                if (System.nanoTime() - deadline > 0) {
                    throw new FlinkRuntimeException("cx-kafka: no fetch response for " + waiting + " within "
                            + END_OFFSETS_TIMEOUT.toSeconds() + " s; cannot tell where a bounded read ends");
                }
                reader.poll(Duration.ofMillis(200));  // the records themselves are not needed
                for (TopicPartition tp : partitionsWithFetchResponse(reader, waiting)) {
                    // The lag is known here, so currentLag() answers from the fetch response and
                    // sends no ListOffsets request (whose answer would be the wrong end again).
                    OptionalLong lag = reader.currentLag(tp);
                    if (lag.isPresent()) {
                        end.merge(tp, reader.position(tp) + lag.getAsLong(), Math::max);
                        waiting.remove(tp);
                    }
                }
            }
            for (TopicPartition tp : tps) {
                // The position also moves past offsets with no record (transaction markers).
                end.merge(tp, reader.position(tp), Math::max);
            }
        }
        return end;
    }

    /**
     * Those of {@code tps} for which a fresh consumer has processed a fetch response: the ones with
     * a per-partition {@code records-lag} metric, which the consumer records from each fetch
     * response at its current position, with records or without (kafka-clients 4.3
     * FetchCollector.fetchRecords; the metric is a documented one).
     * Asking {@code currentLag()} instead would, before the first fetch response, send a
     * ListOffsets request whose (wrong, see {@link #endOffsets}) answer becomes the lag.
     */
    private static Set<TopicPartition> partitionsWithFetchResponse(KafkaConsumer<byte[], byte[]> consumer,
                                                                   Set<TopicPartition> tps) {
        Set<TopicPartition> out = new HashSet<>();
        for (MetricName name : consumer.metrics().keySet()) {
            if (!"records-lag".equals(name.name()) || !FETCH_METRICS_GROUP.equals(name.group())) {
                continue;
            }
            String topic = name.tags().get("topic");
            String partition = name.tags().get("partition");
            for (TopicPartition tp : tps) {
                // The exact name only: kafka-clients 4.3 (pinned, cxstream/jars.py) tags the topic
                // as it is. Its deprecated copy with '.' replaced by '_' would let cx.drift's metric
                // stand in for a cx_drift read by the same source, before that one was fetched.
                if (tp.topic().equals(topic) && String.valueOf(tp.partition()).equals(partition)) {
                    out.add(tp);
                }
            }
        }
        return out;
    }

    /**
     * Per partition, the first offset whose record timestamp is at or after {@code timestamp}, or
     * the end offset when there is none yet.
     *
     * <p>The broker's answer to offsetsForTimes is checked by reading forward from it until the
     * first record that qualifies: the local Tansu broker (measured) answers every lookup with the
     * partition's first offset. On a correct broker the first record read already qualifies.
     */
    private Map<TopicPartition, Long> offsetsForTime(Collection<TopicPartition> tps, long timestamp) {
        Map<TopicPartition, Long> query = new HashMap<>();
        tps.forEach(tp -> query.put(tp, timestamp));
        Map<TopicPartition, Long> found = new HashMap<>();
        try {
            metadataConsumer.offsetsForTimes(query).forEach((tp, o) -> {
                if (o != null) {
                    found.put(tp, o.offset());
                }
            });
        } catch (IllegalArgumentException e) {
            // Tansu (measured) answers a lookup on an empty partition with timestamp -1, which the
            // client refuses as a whole; reading forward from the beginning gives the same answer.
            found.putAll(metadataConsumer.beginningOffsets(tps));
        }
        Map<TopicPartition, Long> end = endOffsets(tps);
        Map<TopicPartition, Long> out = new HashMap<>();
        Set<TopicPartition> open = new HashSet<>();
        for (TopicPartition tp : tps) {
            Long o = found.get(tp);
            if (o == null || o >= end.get(tp)) {
                out.put(tp, end.get(tp));   // nothing at or after the timestamp: start with what comes next
            } else {
                open.add(tp);
            }
        }
        if (open.isEmpty()) {
            return out;
        }
        metadataConsumer.assign(open);
        try {
            open.forEach(tp -> metadataConsumer.seek(tp, found.get(tp)));
            long deadline = System.currentTimeMillis() + 300_000;
            while (!open.isEmpty()) {
                if (System.currentTimeMillis() > deadline) {
                    throw new FlinkRuntimeException("Timed out looking for the offsets of timestamp " + timestamp
                            + " in " + open);
                }
                ConsumerRecords<byte[], byte[]> records = metadataConsumer.poll(Duration.ofMillis(500));
                for (TopicPartition tp : new ArrayList<>(open)) {
                    for (ConsumerRecord<byte[], byte[]> r : records.records(tp)) {
                        if (r.timestamp() >= timestamp) {
                            out.put(tp, r.offset());
                            open.remove(tp);
                            break;
                        }
                    }
                    if (open.contains(tp) && metadataConsumer.position(tp) >= end.get(tp)) {
                        out.put(tp, end.get(tp));
                        open.remove(tp);
                    }
                }
                metadataConsumer.pause(metadataConsumer.assignment().stream().filter(tp -> !open.contains(tp)).toList());
            }
        } finally {
            metadataConsumer.assign(List.of());
        }
        return out;
    }

    // ---- assignment (coordinator thread) ------------------------------------------------------

    private void onDiscovered(List<PartitionSplit> splits, Throwable error) {
        if (error != null) {
            if (!initialDiscoveryDone) {
                // Nothing has been read yet: fail loudly rather than run a job that reads nothing.
                throw new FlinkRuntimeException("cx-kafka: could not list or position the partitions of "
                        + source.topics, error);
            }
            LOG.warn("Partition discovery failed; will retry at the next interval", error);
            return;
        }
        for (PartitionSplit split : splits) {
            if (known.add(split.splitId())) {
                pending.add(split);
                LOG.info("Discovered {}", split);
            }
        }
        initialDiscoveryDone = true;
        assignPending();
    }

    private int ownerOf(PartitionSplit split, int parallelism) {
        // Topic-dependent starting reader, then round-robin over the partition number.
        return (Math.floorMod(split.topic().hashCode(), parallelism) + split.partition()) % parallelism;
    }

    private void assignPending() {
        int parallelism = context.currentParallelism();
        Set<Integer> registered = context.registeredReaders().keySet();
        Map<Integer, List<PartitionSplit>> batch = new HashMap<>();
        pending.removeIf(split -> {
            int owner = ownerOf(split, parallelism);
            if (!registered.contains(owner)) {
                return false;
            }
            batch.computeIfAbsent(owner, k -> new ArrayList<>()).add(split);
            assigned.add(split.splitId());
            return true;
        });
        if (!batch.isEmpty()) {
            context.assignSplits(new SplitsAssignment<>(batch));
        }
        if (source.bounded && initialDiscoveryDone) {
            for (int reader : registered) {
                boolean waiting = pending.stream().anyMatch(s -> ownerOf(s, parallelism) == reader);
                if (!waiting && finishedReaders.add(reader)) {
                    context.signalNoMoreSplits(reader);
                }
            }
        }
    }

    @Override
    public void addReader(int subtaskId) {
        finishedReaders.remove(subtaskId);
        assignPending();
    }

    @Override
    public void addSplitsBack(List<PartitionSplit> splits, int subtaskId) {
        // Splits of a failed reader since the last checkpoint: they go back to it when it re-registers.
        for (PartitionSplit split : splits) {
            assigned.remove(split.splitId());
            pending.add(split);
        }
        finishedReaders.remove(subtaskId);
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // Splits are pushed on discovery; readers never ask.
    }

    @Override
    public EnumeratorState snapshotState(long checkpointId) {
        return new EnumeratorState(new HashSet<>(assigned), new ArrayList<>(pending), initialDiscoveryDone);
    }

    @Override
    public void close() {
        if (metadataConsumer != null) {
            try {
                metadataConsumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
            } catch (RuntimeException e) {
                LOG.warn("Closing the metadata consumer failed", e);
            }
        }
    }
}
