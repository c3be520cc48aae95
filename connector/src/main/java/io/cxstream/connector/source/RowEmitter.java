package io.cxstream.connector.source;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import io.cxstream.connector.TopicMetrics;

/**
 * Turns a Kafka record into a table row: decodes key and value with their formats, adds the
 * requested metadata columns and emits the row with the record's timestamp (the planner's
 * watermark strategy then extracts the event time from the row).
 *
 * <p>A record the formats reject goes to the dead-letter topic when one is configured, else fails
 * the job with the record's coordinates. Either way the split's offset moves past it only after
 * it was handled, so a checkpoint never covers a record that was neither emitted nor dead-lettered.
 */
final class RowEmitter implements RecordEmitter<ConsumerRecord<byte[], byte[]>, RowData, SplitState> {

    private final RowLayout layout;
    private final DeserializationSchema<RowData> keyFormat;   // null when the key is not read
    private final DeserializationSchema<RowData> valueFormat;
    private final DeadLetterWriter deadLetters;                // null: fail on undecodable records
    private final Counter decoded;
    private final Counter toDlq;
    private final Counter inErrors;
    private final TopicMetrics topics;

    private final ListCollector keyRows = new ListCollector();
    private final ListCollector valueRows = new ListCollector();

    RowEmitter(RowLayout layout, DeserializationSchema<RowData> keyFormat, DeserializationSchema<RowData> valueFormat,
               DeadLetterWriter deadLetters, Counter decoded, Counter toDlq, Counter inErrors, TopicMetrics topics) {
        this.topics = topics;
        this.layout = layout;
        this.keyFormat = keyFormat;
        this.valueFormat = valueFormat;
        this.deadLetters = deadLetters;
        this.decoded = decoded;
        this.toDlq = toDlq;
        this.inErrors = inErrors;
    }

    @Override
    public void emitRecord(ConsumerRecord<byte[], byte[]> record, SourceOutput<RowData> output, SplitState state)
            throws Exception {
        keyRows.rows.clear();
        valueRows.rows.clear();
        if (record.value() == null && deadLetters != null) {
            // A tombstone on an append-only source topic is not a row; keep it visible, not dropped.
            deadLetter(record, "undecodable: null value", state);
            return;
        }
        try {
            if (keyFormat != null) {
                keyFormat.deserialize(record.key(), keyRows);
            }
            valueFormat.deserialize(record.value(), valueRows);
        } catch (Exception e) {
            if (deadLetters == null) {
                throw new IOException("cx-kafka: cannot decode the record at " + record.topic() + "-"
                        + record.partition() + " offset " + record.offset() + " (set 'dlq.topic' to send "
                        + "undecodable records to a dead-letter topic instead of failing the job)", e);
            }
            deadLetter(record, DeadLetterWriter.reason(e), state);
            return;
        }
        RowData key = keyRows.rows.isEmpty() ? null : keyRows.rows.get(0);
        for (RowData value : valueRows.rows) {
            output.collect(layout.assemble(key, value, record, state), record.timestamp());
        }
        decoded.inc();
        topics.record(record.topic(), valueRows.rows.isEmpty() ? null : valueRows.rows.get(0));
        state.nextOffset = record.offset() + 1;
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> record, String reason, SplitState state) throws IOException {
        deadLetters.send(record, reason);
        toDlq.inc();
        topics.deadLettered(record.topic());
        inErrors.inc();
        state.nextOffset = record.offset() + 1;
    }

    /** Collects a format's output rows (usually one) without allocating per record. */
    private static final class ListCollector implements Collector<RowData> {
        final List<RowData> rows = new ArrayList<>(1);

        @Override
        public void collect(RowData row) {
            if (row != null) {
                rows.add(row);
            }
        }

        @Override
        public void close() {}
    }
}
