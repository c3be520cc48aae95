package io.cxstream.connector;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.table.data.RowData;

/**
 * Per-topic metrics of one source or sink subtask, in a {@code topic} key group so that a
 * reporter shows the topic as a label ({@code topic="cx.signals"}):
 * <ul>
 *   <li>{@code records} (counter): records read from / written to the topic;</li>
 *   <li>{@code recordsToDlq} (counter, sources): records of the topic sent to the dead-letter topic
 *       because they could not be decoded;</li>
 *   <li>{@code eventTimeLagMs} (histogram over the last 1,000 records): wall-clock time when the
 *       record was read (source) or written (sink) minus its event time. For an output that is the
 *       end-to-end latency of a result: how long after its window's end it reached Kafka.</li>
 * </ul>
 * Why here and not in SQL: the connector sees every record exactly once, at the moment it crosses
 * the Kafka boundary, which is what "latency" and "records per topic" mean to an operator.
 */
public final class TopicMetrics {

    private static final int HISTOGRAM_WINDOW = 1000;
    // The contracts' bounds for a plausible event time (cxstream/validation.py): 1 h ahead, 7 days behind.
    private static final long MAX_AHEAD_MS = 3_600_000L;
    private static final long MAX_BEHIND_MS = 7L * 24 * 3_600_000L;

    private final MetricGroup parent;
    private final int eventTimeField;  // index in the row given to record(), or -1
    private final Map<String, Counter> records = new HashMap<>();
    private final Map<String, Counter> toDlq = new HashMap<>();
    private final Map<String, Histogram> lag = new HashMap<>();

    public TopicMetrics(MetricGroup parent, int eventTimeField) {
        this.parent = parent;
        this.eventTimeField = eventTimeField;
    }

    private MetricGroup group(String topic) {
        return parent.addGroup("topic", topic);
    }

    /** Count one record of {@code topic}; {@code row} carries the event time (may be null). */
    public void record(String topic, RowData row) {
        records.computeIfAbsent(topic, t -> group(t).counter("records")).inc();
        if (eventTimeField < 0 || row == null || row.isNullAt(eventTimeField)) {
            return;
        }
        long lagMs = System.currentTimeMillis() - row.getTimestamp(eventTimeField, 3).getMillisecond();
        if (lagMs < -MAX_AHEAD_MS || lagMs > MAX_BEHIND_MS) {
            return;  // an absurd event time (the job sends it to the DLQ) is a broken clock, not latency
        }
        lag.computeIfAbsent(topic, t -> group(t).histogram("eventTimeLagMs",
                new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW))).update(lagMs);
    }

    public void deadLettered(String topic) {
        toDlq.computeIfAbsent(topic, t -> group(t).counter("recordsToDlq")).inc();
    }
}
