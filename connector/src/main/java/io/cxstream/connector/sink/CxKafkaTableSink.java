package io.cxstream.connector.sink;

import java.util.List;
import java.util.Properties;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;

import io.cxstream.connector.source.CxKafkaTableSource;

/** Table sink of cx-kafka (append-only) and cx-upsert-kafka (upsert on the primary key). */
public final class CxKafkaTableSink implements DynamicTableSink {

    private final DataType physicalType;
    private final EncodingFormat<SerializationSchema<RowData>> keyFormat;   // may be null
    private final EncodingFormat<SerializationSchema<RowData>> valueFormat;
    private final int[] keyProjection;
    private final int[] valueProjection;
    private final String topic;
    private final Properties properties;
    private final boolean upsert;
    private final DeliveryGuarantee guarantee;
    private final Integer parallelism;
    private final int eventTimeField;  // physical column index, or -1

    public CxKafkaTableSink(DataType physicalType, EncodingFormat<SerializationSchema<RowData>> keyFormat,
                            EncodingFormat<SerializationSchema<RowData>> valueFormat, int[] keyProjection,
                            int[] valueProjection, String topic, Properties properties, boolean upsert,
                            DeliveryGuarantee guarantee, Integer parallelism, int eventTimeField) {
        this.eventTimeField = eventTimeField;
        this.physicalType = physicalType;
        this.keyFormat = keyFormat;
        this.valueFormat = valueFormat;
        this.keyProjection = keyProjection;
        this.valueProjection = valueProjection;
        this.topic = topic;
        this.properties = properties;
        this.upsert = upsert;
        this.guarantee = guarantee;
        this.parallelism = parallelism;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
        // Upsert: INSERT, UPDATE_AFTER and DELETE (no UPDATE_BEFORE), the shape of a compacted topic.
        return upsert ? ChangelogMode.upsert() : ChangelogMode.insertOnly();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        SerializationSchema<RowData> keyEncoder = keyFormat == null ? null
                : keyFormat.createRuntimeEncoder(context, CxKafkaTableSource.project(physicalType, keyProjection));
        SerializationSchema<RowData> valueEncoder =
                valueFormat.createRuntimeEncoder(context, CxKafkaTableSource.project(physicalType, valueProjection));
        List<DataType> fields = DataType.getFieldDataTypes(physicalType);
        LogicalType[] types = fields.stream().map(DataType::getLogicalType).toArray(LogicalType[]::new);
        CxKafkaSink sink = new CxKafkaSink(topic, properties, keyEncoder, valueEncoder, keyProjection, valueProjection,
                types, upsert, guarantee, eventTimeField);
        return SinkV2Provider.of(sink, parallelism);
    }

    @Override
    public DynamicTableSink copy() {
        return new CxKafkaTableSink(physicalType, keyFormat, valueFormat, keyProjection, valueProjection, topic,
                properties, upsert, guarantee, parallelism, eventTimeField);
    }

    @Override
    public String asSummaryString() {
        return upsert ? "cx-upsert-kafka" : "cx-kafka";
    }
}
