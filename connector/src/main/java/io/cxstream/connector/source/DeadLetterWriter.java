package io.cxstream.connector.source;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Base64;
import java.util.Properties;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import io.cxstream.connector.Clients;

/**
 * Writes records the value format could not decode to the dead-letter topic, as one JSON object
 * each (schemas/dlq_record.avsc in the project), so that a bad record neither fails the job nor
 * disappears. The producer is created on the first bad record: most jobs never need it.
 *
 * <p>At-least-once: the reader calls {@link #flush()} while taking a checkpoint, so a checkpoint
 * that moves the source offsets past a bad record also covers its dead-letter copy. A send error
 * is kept and thrown at the next send or flush, failing the job instead of losing the record.
 */
final class DeadLetterWriter implements AutoCloseable {
    /**
     * Dead letters carry at most this much of the rejected value: a record near the broker's size limit
     * would not fit in a dead letter once base64-encoded. The source topic, partition and offset in the
     * letter point at the full record.
     */
    static final int MAX_PAYLOAD_BYTES = 256 * 1024;

    /** ISO-8601 in UTC with exactly three fraction digits (ISO_INSTANT drops ".000"). */
    private static final DateTimeFormatter ISO_MILLIS =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
    static final int MAX_MESSAGE_CHARS = 500;

    private final Properties props;
    private final String topic;
    private final String jobName;
    private final String clientId;
    private final JsonFactory json = new JsonFactory();
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(512);

    private KafkaProducer<byte[], byte[]> producer;
    private volatile Exception sendError;

    DeadLetterWriter(Properties props, String topic, String jobName, String clientId) {
        this.props = props;
        this.topic = topic;
        this.jobName = jobName;
        this.clientId = clientId;
    }

    String topic() {
        return topic;
    }

    /** The 'reason' text for a decoding failure: "undecodable: Class: message" (message capped). */
    static String reason(Throwable error) {
        String message = String.valueOf(error.getMessage());
        Throwable cause = error.getCause();
        if (cause != null && cause != error && cause.getMessage() != null && !message.contains(cause.getMessage())) {
            // Formats often wrap the useful detail ("Failed to deserialize ..." ← "Unexpected char").
            message = message + " (caused by " + cause.getClass().getSimpleName() + ": " + cause.getMessage() + ")";
        }
        if (message.length() > MAX_MESSAGE_CHARS) {
            message = message.substring(0, MAX_MESSAGE_CHARS);
        }
        return "undecodable: " + error.getClass().getSimpleName() + ": " + message;
    }

    void send(ConsumerRecord<byte[], byte[]> record, String reason) throws IOException {
        throwIfFailed();
        if (producer == null) {
            producer = Clients.producer(props, clientId);
        }
        byte[] value = toJson(record, reason);
        producer.send(new ProducerRecord<>(topic, null, null, value), (metadata, exception) -> {
            if (exception != null && sendError == null) {
                sendError = exception;
            }
        });
    }

    private byte[] toJson(ConsumerRecord<byte[], byte[]> record, String reason) throws IOException {
        buffer.reset();
        try (JsonGenerator g = json.createGenerator(buffer, JsonEncoding.UTF8)) {
            g.writeStartObject();
            g.writeStringField("source_topic", record.topic());
            g.writeNumberField("source_partition", record.partition());
            g.writeNumberField("source_offset", record.offset());
            if (record.timestamp() < 0) {   // -1: the producer set no timestamp
                g.writeNullField("source_timestamp");
            } else {
                g.writeStringField("source_timestamp", ISO_MILLIS.format(Instant.ofEpochMilli(record.timestamp())));
            }
            byte[] value = record.value();
            boolean truncated = value != null && value.length > MAX_PAYLOAD_BYTES;
            g.writeStringField("reason", truncated
                    ? reason + " (payload truncated to " + MAX_PAYLOAD_BYTES + " of " + value.length + " bytes)"
                    : reason);
            g.writeStringField("stage", "decode");
            g.writeStringField("job", jobName);
            if (value == null) {
                g.writeNullField("payload");
            } else {
                byte[] kept = truncated ? Arrays.copyOf(value, MAX_PAYLOAD_BYTES) : value;
                g.writeStringField("payload", Base64.getEncoder().encodeToString(kept));
            }
            g.writeStringField("detected_at", ISO_MILLIS.format(Instant.now()));
            g.writeEndObject();
        }
        return buffer.toByteArray();
    }

    /** Blocks until every dead letter sent so far is acknowledged; throws the first send error. */
    void flush() throws IOException {
        if (producer != null) {
            producer.flush();
        }
        throwIfFailed();
    }

    private void throwIfFailed() throws IOException {
        Exception e = sendError;
        if (e != null) {
            throw new IOException("Could not write to dead-letter topic '" + topic + "'", e);
        }
    }

    @Override
    public void close() {
        if (producer != null) {
            producer.close(Duration.ofSeconds(10));
            producer = null;
        }
    }
}
