package io.cxstream.connector.source;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.DataType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/** Metadata columns a source offers; keys and types as in Flink's official Kafka connector. */
enum ReadableMetadata {
    TOPIC("topic", DataTypes.STRING().notNull()),
    PARTITION("partition", DataTypes.INT().notNull()),
    OFFSET("offset", DataTypes.BIGINT().notNull()),
    TIMESTAMP("timestamp", DataTypes.TIMESTAMP_WITH_LOCAL_TIME_ZONE(3).notNull()),
    TIMESTAMP_TYPE("timestamp-type", DataTypes.STRING().notNull()),
    HEADERS("headers", DataTypes.MAP(DataTypes.STRING().nullable(), DataTypes.BYTES().nullable()).notNull());

    final String key;
    final DataType type;

    ReadableMetadata(String key, DataType type) {
        this.key = key;
        this.type = type;
    }

    static Map<String, DataType> all() {
        Map<String, DataType> out = new LinkedHashMap<>();
        for (ReadableMetadata m : values()) {
            out.put(m.key, m.type);
        }
        return out;
    }

    static ReadableMetadata of(String key) {
        for (ReadableMetadata m : values()) {
            if (m.key.equals(key)) {
                return m;
            }
        }
        throw new IllegalArgumentException("Unknown metadata key '" + key + "'");
    }

    Object read(ConsumerRecord<byte[], byte[]> record, SplitState state) {
        switch (this) {
            case TOPIC: return state.topic;
            case PARTITION: return record.partition();
            case OFFSET: return record.offset();
            case TIMESTAMP: return TimestampData.fromEpochMillis(record.timestamp());
            case TIMESTAMP_TYPE: return StringData.fromString(record.timestampType().toString());
            case HEADERS: {
                Map<StringData, byte[]> headers = new HashMap<>();
                for (Header h : record.headers()) {
                    headers.put(StringData.fromString(h.key()), h.value());
                }
                return new GenericMapData(headers);
            }
            default: throw new IllegalStateException();
        }
    }
}
