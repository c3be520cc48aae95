package io.cxstream.connector.source;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Objects;

import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.kafka.common.TopicPartition;

/**
 * One Kafka topic-partition, read from {@code startingOffset} (always a concrete offset: the
 * enumerator resolves start modes before assigning) up to {@code stoppingOffset} exclusive, or
 * forever when it is {@link #NO_STOP}. Checkpointed by the reader with the next offset to read.
 */
public final class PartitionSplit implements SourceSplit {

    public static final long NO_STOP = Long.MAX_VALUE;

    private final String topic;
    private final int partition;
    private final long startingOffset;
    private final long stoppingOffset;

    public PartitionSplit(String topic, int partition, long startingOffset, long stoppingOffset) {
        this.topic = Objects.requireNonNull(topic);
        this.partition = partition;
        this.startingOffset = startingOffset;
        this.stoppingOffset = stoppingOffset;
    }

    public static String idOf(String topic, int partition) {
        return topic + "-" + partition;
    }

    @Override
    public String splitId() {
        return idOf(topic, partition);
    }

    public String topic() { return topic; }
    public int partition() { return partition; }
    public long startingOffset() { return startingOffset; }
    public long stoppingOffset() { return stoppingOffset; }
    public boolean isBounded() { return stoppingOffset != NO_STOP; }

    public TopicPartition topicPartition() {
        return new TopicPartition(topic, partition);
    }

    public PartitionSplit withStartingOffset(long offset) {
        return new PartitionSplit(topic, partition, offset, stoppingOffset);
    }

    @Override
    public String toString() {
        return splitId() + "[" + startingOffset + ", " + (isBounded() ? String.valueOf(stoppingOffset) : "∞") + ")";
    }

    /** Binary form used in checkpoints. Bump VERSION and keep reading old ones if it changes. */
    public static final class Serializer implements SimpleVersionedSerializer<PartitionSplit> {
        public static final Serializer INSTANCE = new Serializer();
        private static final int VERSION = 1;

        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(PartitionSplit split) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                write(split, out);
            }
            return bytes.toByteArray();
        }

        @Override
        public PartitionSplit deserialize(int version, byte[] serialized) throws IOException {
            if (version != VERSION) {
                throw new IOException("Unknown PartitionSplit serializer version " + version);
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                return read(in);
            }
        }

        static void write(PartitionSplit split, DataOutputStream out) throws IOException {
            out.writeUTF(split.topic);
            out.writeInt(split.partition);
            out.writeLong(split.startingOffset);
            out.writeLong(split.stoppingOffset);
        }

        static PartitionSplit read(DataInputStream in) throws IOException {
            return new PartitionSplit(in.readUTF(), in.readInt(), in.readLong(), in.readLong());
        }
    }
}
