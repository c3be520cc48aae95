package io.cxstream.connector;

import static io.cxstream.connector.KafkaOptions.*;

import java.util.Set;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;

import io.cxstream.connector.sink.CxKafkaTableSink;

/**
 * {@code 'connector' = 'cx-upsert-kafka'}: a changelog sink keyed by the table's PRIMARY KEY. The
 * key columns, encoded with 'key.format', are the record key (so every version of a row lands on
 * the same partition, in order); inserts and updates write the row as the value, deletes write a
 * tombstone (null value), which is what log compaction and upsert readers expect.
 */
public class CxUpsertKafkaTableFactory implements DynamicTableSinkFactory {

    public static final String IDENTIFIER = "cx-upsert-kafka";

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(TOPIC, KEY_FORMAT);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(FactoryUtil.FORMAT, VALUE_FORMAT, VALUE_FIELDS_INCLUDE, SINK_DELIVERY_GUARANTEE, SINK_TRANSACTIONAL_ID_PREFIX,
                FactoryUtil.SINK_PARALLELISM, METRICS_EVENT_TIME_FIELD);
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        EncodingFormat<SerializationSchema<RowData>> keyFormat =
                helper.discoverEncodingFormat(SerializationFormatFactory.class, KEY_FORMAT);
        EncodingFormat<SerializationSchema<RowData>> valueFormat =
                helper.discoverOptionalEncodingFormat(SerializationFormatFactory.class, FactoryUtil.FORMAT)
                        .orElseGet(() -> helper.discoverEncodingFormat(SerializationFormatFactory.class, VALUE_FORMAT));
        helper.validateExcept(PROPERTIES_PREFIX);
        ReadableConfig options = helper.getOptions();

        int[] keyProjection = context.getPrimaryKeyIndexes();
        if (keyProjection == null || keyProjection.length == 0) {
            throw new ValidationException("'cx-upsert-kafka' tables need a PRIMARY KEY (... NOT ENFORCED): "
                    + "its columns are the record key.");
        }
        DataType physical = context.getPhysicalRowDataType();
        return new CxKafkaTableSink(physical, keyFormat, valueFormat, keyProjection,
                CxKafkaTableFactory.valueProjection(options, physical, keyProjection),
                CxKafkaTableFactory.singleTopic(options), kafkaProperties(context.getCatalogTable().getOptions()),
                true, CxKafkaTableFactory.deliveryGuarantee(options),
                options.getOptional(FactoryUtil.SINK_PARALLELISM).orElse(null),
                eventTimeIndex(options, DataType.getFieldNames(physical)));
    }
}
