package io.cxstream.connector.sink;

import java.io.IOException;
import java.time.Duration;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.types.RowKind;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import io.cxstream.connector.TopicMetrics;

import io.cxstream.connector.Clients;

/**
 * Writes rows with one KafkaProducer per subtask.
 *
 * <p>Sends are asynchronous; the first failed send is remembered by the callback and thrown by the
 * next {@link #write} or {@link #flush}, which fails the job (and so replays from the last
 * checkpoint) instead of losing the record. With at-least-once, {@link #flush} runs before every
 * checkpoint and blocks until all records sent so far are acknowledged, so a completed checkpoint
 * implies the broker has every record before it.
 *
 * <p>Partitioning is the producer's: murmur2 of the key bytes when there is a key (so a key
 * always lands on the same partition and keeps its order), sticky batches when there is none.
 */
final class KafkaRowWriter implements SinkWriter<RowData> {

    private final CxKafkaSink sink;
    private final KafkaProducer<byte[], byte[]> producer;
    private final RowData.FieldGetter[] keyGetters;
    private final RowData.FieldGetter[] valueGetters;   // null: the value is the whole row
    private final Counter sent;
    private final Counter sentBytes;
    private final Counter sendErrors;
    private final TopicMetrics topics;
    private final Callback callback;
    private volatile Exception asyncError;

    KafkaRowWriter(CxKafkaSink sink, WriterInitContext context) throws IOException {
        this.sink = sink;
        SerializationSchema.InitializationContext init = context.asSerializationSchemaInitializationContext();
        try {
            if (sink.keyFormat != null) {
                sink.keyFormat.open(init);
            }
            sink.valueFormat.open(init);
        } catch (Exception e) {
            throw new IOException("Could not open the sink's formats", e);
        }
        this.keyGetters = sink.keyFormat == null ? null : getters(sink.keyProjection);
        boolean wholeRow = sink.valueProjection.length == sink.physicalTypes.length;
        for (int i = 0; wholeRow && i < sink.valueProjection.length; i++) {
            wholeRow = sink.valueProjection[i] == i;
        }
        this.valueGetters = wholeRow ? null : getters(sink.valueProjection);
        this.sent = context.metricGroup().getNumRecordsSendCounter();
        this.sentBytes = context.metricGroup().getNumBytesSendCounter();
        this.sendErrors = context.metricGroup().getNumRecordsSendErrorsCounter();
        this.topics = new TopicMetrics(context.metricGroup(), sink.eventTimeField);
        this.callback = (metadata, exception) -> {
            if (exception != null) {
                sendErrors.inc();
                if (asyncError == null) {
                    asyncError = exception;
                }
            }
        };
        String clientId = "cx-kafka-sink-" + sink.topic + "-" + context.getTaskInfo().getIndexOfThisSubtask();
        this.producer = Clients.producer(sink.properties, clientId);
    }

    private RowData.FieldGetter[] getters(int[] projection) {
        RowData.FieldGetter[] out = new RowData.FieldGetter[projection.length];
        for (int i = 0; i < projection.length; i++) {
            out[i] = RowData.createFieldGetter(sink.physicalTypes[projection[i]], projection[i]);
        }
        return out;
    }

    private static RowData project(RowData row, RowData.FieldGetter[] getters) {
        GenericRowData out = new GenericRowData(row.getRowKind(), getters.length);
        for (int i = 0; i < getters.length; i++) {
            out.setField(i, getters[i].getFieldOrNull(row));
        }
        return out;
    }

    @Override
    public void write(RowData row, Context context) throws IOException {
        throwAsyncError();
        RowKind kind = row.getRowKind();
        byte[] value;
        switch (kind) {
            case INSERT:
            case UPDATE_AFTER:
                value = sink.valueFormat.serialize(valueGetters == null ? row : project(row, valueGetters));
                break;
            case DELETE:
            case UPDATE_BEFORE:
                if (!sink.upsert) {
                    throw new IOException("cx-kafka is append-only and received a " + kind + " row; use "
                            + "cx-upsert-kafka with a PRIMARY KEY for results that update or delete rows");
                }
                // Tombstone: compaction and upsert readers drop the key. An UPDATE_BEFORE reaches
                // us only when the planner keeps it on purpose, e.g. a filter after an aggregation
                // whose new value no longer passes: then no UPDATE_AFTER follows and the
                // UPDATE_BEFORE is the only sign that the key left the result. When an
                // UPDATE_AFTER does follow, it replaces the tombstone.
                value = null;
                break;
            default:
                throw new IOException("Unknown row kind " + kind);
        }
        byte[] key = keyGetters == null ? null : sink.keyFormat.serialize(project(row, keyGetters));
        if (sink.upsert && key == null) {
            throw new IOException("cx-upsert-kafka: the key encoded to null; every record needs a key");
        }
        producer.send(new ProducerRecord<>(sink.topic, null, null, key, value), callback);
        sent.inc();
        topics.record(sink.topic, value == null ? null : row);
        sentBytes.inc((key == null ? 0 : key.length) + (value == null ? 0 : value.length));
    }

    @Override
    public void flush(boolean endOfInput) throws IOException {
        if (sink.guarantee != DeliveryGuarantee.NONE || endOfInput) {
            producer.flush();
        }
        throwAsyncError();
    }

    private void throwAsyncError() throws IOException {
        Exception e = asyncError;
        if (e != null) {
            throw new IOException("cx-kafka: sending to topic '" + sink.topic + "' failed", e);
        }
    }

    @Override
    public void close() throws Exception {
        // Records not flushed here were not covered by a checkpoint and will be replayed.
        producer.close(Duration.ofSeconds(10));
    }
}
