package io.cxstream.connector.sink;

import java.io.IOException;
import java.util.Properties;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.LogicalType;

/** Sink V2 writing table rows to one topic; see {@link KafkaRowWriter} for the guarantees. */
public final class CxKafkaSink implements Sink<RowData> {

    private static final long serialVersionUID = 1L;

    final String topic;
    final Properties properties;
    final SerializationSchema<RowData> keyFormat;    // null: records have no key
    final SerializationSchema<RowData> valueFormat;
    final int[] keyProjection;
    final int[] valueProjection;
    final LogicalType[] physicalTypes;
    final boolean upsert;
    final DeliveryGuarantee guarantee;
    final int eventTimeField;

    CxKafkaSink(String topic, Properties properties, SerializationSchema<RowData> keyFormat,
                SerializationSchema<RowData> valueFormat, int[] keyProjection, int[] valueProjection,
                LogicalType[] physicalTypes, boolean upsert, DeliveryGuarantee guarantee,
                int eventTimeField) {
        this.eventTimeField = eventTimeField;
        this.topic = topic;
        this.properties = properties;
        this.keyFormat = keyFormat;
        this.valueFormat = valueFormat;
        this.keyProjection = keyProjection;
        this.valueProjection = valueProjection;
        this.physicalTypes = physicalTypes;
        this.upsert = upsert;
        this.guarantee = guarantee;
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext context) throws IOException {
        return new KafkaRowWriter(this, context);
    }
}
