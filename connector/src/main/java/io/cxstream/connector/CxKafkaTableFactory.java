package io.cxstream.connector;

import static io.cxstream.connector.KafkaOptions.*;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.stream.IntStream;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;

import io.cxstream.connector.sink.CxKafkaTableSink;
import io.cxstream.connector.source.CxKafkaTableSource;

/**
 * {@code 'connector' = 'cx-kafka'}: an append-only Kafka table, as source and as sink.
 *
 * <p>Stands in for Flink's official {@code kafka} connector where its jar cannot be installed;
 * option names follow the official connector so that table definitions carry over.
 */
public class CxKafkaTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {

    public static final String IDENTIFIER = "cx-kafka";

    /**
     * Why there is no exactly-once (measured against the local broker, see connector/README.md):
     * <ul>
     *   <li>its read_committed fetches return records of aborted transactions, so consumers of
     *       the output would see the data of failed attempts anyway;</li>
     *   <li>a correct Kafka two-phase commit must commit, after a restart, a transaction prepared
     *       by the failed producer. The public client API cannot resume a transaction (KIP-939's
     *       prepared transactions need broker support; the official connector reaches into the
     *       client's internals by reflection).</li>
     * </ul>
     * A sink that claims exactly-once but duplicates after a restart is worse than an honest
     * at-least-once sink, so the option is refused at validation.
     */
    static final String NO_EXACTLY_ONCE = "'sink.delivery-guarantee' = 'exactly-once' is not supported by "
            + "cx-kafka: it cannot resume a prepared Kafka transaction after a restart with the public Kafka "
            + "client API, and the local broker's read_committed reads return aborted records, so the promise "
            + "could not be kept. Use 'at-least-once' (the default) with consumers that tolerate duplicates "
            + "(e.g. idempotent on the record key), or Flink's official Kafka connector against brokers "
            + "with full transaction support.";

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(TOPIC);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(FactoryUtil.FORMAT, VALUE_FORMAT, KEY_FORMAT, KEY_FIELDS, VALUE_FIELDS_INCLUDE, SCAN_STARTUP_MODE, SCAN_STARTUP_TIMESTAMP_MILLIS,
                SCAN_STARTUP_SPECIFIC_OFFSETS, SCAN_BOUNDED_MODE, SCAN_PARTITION_DISCOVERY_INTERVAL, DLQ_TOPIC, METRICS_EVENT_TIME_FIELD,
                DLQ_JOB_NAME, SINK_DELIVERY_GUARANTEE, SINK_TRANSACTIONAL_ID_PREFIX, FactoryUtil.SINK_PARALLELISM);
    }

    // ---- source -------------------------------------------------------------------------------

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        Optional<DecodingFormat<DeserializationSchema<RowData>>> keyFormat =
                helper.discoverOptionalDecodingFormat(DeserializationFormatFactory.class, KEY_FORMAT);
        // 'format' (options 'json.x') or 'value.format' (options 'value.json.x'), as the official connector.
        DecodingFormat<DeserializationSchema<RowData>> valueFormat =
                helper.discoverOptionalDecodingFormat(DeserializationFormatFactory.class, FactoryUtil.FORMAT)
                        .orElseGet(() -> helper.discoverDecodingFormat(DeserializationFormatFactory.class, VALUE_FORMAT));
        helper.validateExcept(PROPERTIES_PREFIX);
        ReadableConfig options = helper.getOptions();

        DataType physical = context.getPhysicalRowDataType();
        int[] keyProjection = keyProjection(options, physical, keyFormat.isPresent());
        int[] valueProjection = valueProjection(options, physical, keyProjection);
        Properties props = kafkaProperties(context.getCatalogTable().getOptions());

        StartupMode mode = startupMode(options.get(SCAN_STARTUP_MODE));
        long timestamp = -1;
        Map<Integer, Long> specific = Map.of();
        if (mode == StartupMode.TIMESTAMP) {
            timestamp = options.getOptional(SCAN_STARTUP_TIMESTAMP_MILLIS).orElseThrow(() -> new ValidationException(
                    "'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis'."));
        } else if (mode == StartupMode.SPECIFIC_OFFSETS) {
            specific = specificOffsets(options.getOptional(SCAN_STARTUP_SPECIFIC_OFFSETS).orElseThrow(() ->
                    new ValidationException("'scan.startup.mode' = 'specific-offsets' needs 'scan.startup.specific-offsets'.")));
        } else if (mode == StartupMode.GROUP_OFFSETS && !props.containsKey("group.id")) {
            throw new ValidationException("'scan.startup.mode' = 'group-offsets' needs 'properties.group.id'.");
        }
        String dlqTopic = options.getOptional(DLQ_TOPIC).filter(t -> !t.isBlank()).orElse(null);
        // The event time is read from the decoded value row, whose columns are valueProjection's.
        int eventTimePhysical = eventTimeIndex(options, DataType.getFieldNames(physical));
        int eventTimeInValue = -1;
        for (int i = 0; i < valueProjection.length; i++) {
            if (valueProjection[i] == eventTimePhysical) {
                eventTimeInValue = i;
            }
        }

        return new CxKafkaTableSource(physical, keyFormat.orElse(null), valueFormat, keyProjection, valueProjection,
                topics(options.get(TOPIC)), props, mode, timestamp, specific, boundedAtLatest(options.get(SCAN_BOUNDED_MODE)),
                options.get(SCAN_PARTITION_DISCOVERY_INTERVAL).toMillis(), dlqTopic, options.get(DLQ_JOB_NAME),
                context.getObjectIdentifier().asSummaryString(), eventTimeInValue);
    }

    // ---- sink ---------------------------------------------------------------------------------

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        Optional<EncodingFormat<SerializationSchema<RowData>>> keyFormat =
                helper.discoverOptionalEncodingFormat(SerializationFormatFactory.class, KEY_FORMAT);
        EncodingFormat<SerializationSchema<RowData>> valueFormat =
                helper.discoverOptionalEncodingFormat(SerializationFormatFactory.class, FactoryUtil.FORMAT)
                        .orElseGet(() -> helper.discoverEncodingFormat(SerializationFormatFactory.class, VALUE_FORMAT));
        helper.validateExcept(PROPERTIES_PREFIX);
        ReadableConfig options = helper.getOptions();

        DataType physical = context.getPhysicalRowDataType();
        int[] keyProjection = keyProjection(options, physical, keyFormat.isPresent());
        return new CxKafkaTableSink(physical, keyFormat.orElse(null), valueFormat, keyProjection,
                valueProjection(options, physical, keyProjection), singleTopic(options),
                kafkaProperties(context.getCatalogTable().getOptions()), false, deliveryGuarantee(options),
                options.getOptional(FactoryUtil.SINK_PARALLELISM).orElse(null),
                eventTimeIndex(options, DataType.getFieldNames(physical)));
    }

    // ---- shared validation --------------------------------------------------------------------

    static String singleTopic(ReadableConfig options) {
        List<String> topics = topics(options.get(TOPIC));
        if (topics.size() != 1) {
            throw new ValidationException("A sink writes to exactly one topic; 'topic' names " + topics + ".");
        }
        return topics.get(0);
    }

    static DeliveryGuarantee deliveryGuarantee(ReadableConfig options) {
        DeliveryGuarantee g = options.get(SINK_DELIVERY_GUARANTEE);
        if (g == DeliveryGuarantee.EXACTLY_ONCE) {
            throw new ValidationException(NO_EXACTLY_ONCE);
        }
        return g;
    }

    private static int[] keyProjection(ReadableConfig options, DataType physical, boolean hasKeyFormat) {
        List<String> keyFields = options.get(KEY_FIELDS);
        if (hasKeyFormat && keyFields.isEmpty()) {
            throw new ValidationException("'key.format' is set but 'key.fields' is not: name the key columns.");
        }
        if (!hasKeyFormat && !keyFields.isEmpty()) {
            throw new ValidationException("'key.fields' is set but 'key.format' is not: say how to encode the key.");
        }
        return indexesOf(keyFields, DataType.getFieldNames(physical), "key.fields");
    }

    static int[] valueProjection(ReadableConfig options, DataType physical, int[] keyProjection) {
        int arity = DataType.getFieldCount(physical);
        if (options.get(VALUE_FIELDS_INCLUDE) == ValueFieldsInclude.EXCEPT_KEY) {
            int[] rest = complement(keyProjection, arity);
            if (rest.length == 0) {
                throw new ValidationException("'value.fields-include' = 'EXCEPT_KEY' leaves no column for the value.");
            }
            return rest;
        }
        return IntStream.range(0, arity).toArray();
    }
}
