package io.cxstream.connector.source;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.ProviderContext;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DataStreamScanProvider;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.abilities.SupportsReadingMetadata;
import org.apache.flink.table.connector.source.abilities.SupportsWatermarkPushDown;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;

import io.cxstream.connector.KafkaOptions.StartupMode;

/**
 * The table-side view of the source: takes the planner's pushed-down watermark strategy and
 * metadata columns, then builds the {@link CxKafkaSource}.
 *
 * <p>It returns a {@link DataStreamScanProvider} rather than a plain SourceProvider because only
 * {@code fromSource(source, watermarkStrategy, ...)} lets the source apply the strategy per split
 * (per partition); with a SourceProvider the planner would assign watermarks after the source,
 * across partitions, and a partition that is behind would see its records dropped as late.
 */
public final class CxKafkaTableSource implements ScanTableSource, SupportsReadingMetadata, SupportsWatermarkPushDown {

    private final DataType physicalType;
    private final DecodingFormat<DeserializationSchema<RowData>> keyFormat;   // may be null
    private final DecodingFormat<DeserializationSchema<RowData>> valueFormat;
    private final int[] keyProjection;
    private final int[] valueProjection;
    private final List<String> topics;
    private final Properties properties;
    private final StartupMode startupMode;
    private final long startupTimestampMillis;
    private final Map<Integer, Long> specificOffsets;
    private final boolean bounded;
    private final long discoveryIntervalMs;
    private final String dlqTopic;
    private final String dlqJobName;
    private final String tableName;
    private final int eventTimeField;  // in the decoded value row, or -1

    private List<String> metadataKeys = List.of();
    private DataType producedType;
    private WatermarkStrategy<RowData> watermarkStrategy;

    public CxKafkaTableSource(DataType physicalType, DecodingFormat<DeserializationSchema<RowData>> keyFormat,
                              DecodingFormat<DeserializationSchema<RowData>> valueFormat, int[] keyProjection,
                              int[] valueProjection, List<String> topics, Properties properties,
                              StartupMode startupMode, long startupTimestampMillis, Map<Integer, Long> specificOffsets,
                              boolean bounded, long discoveryIntervalMs, String dlqTopic, String dlqJobName,
                              String tableName, int eventTimeField) {
        this.physicalType = physicalType;
        this.keyFormat = keyFormat;
        this.valueFormat = valueFormat;
        this.keyProjection = keyProjection;
        this.valueProjection = valueProjection;
        this.topics = topics;
        this.properties = properties;
        this.startupMode = startupMode;
        this.startupTimestampMillis = startupTimestampMillis;
        this.specificOffsets = specificOffsets;
        this.bounded = bounded;
        this.discoveryIntervalMs = discoveryIntervalMs;
        this.dlqTopic = dlqTopic;
        this.dlqJobName = dlqJobName;
        this.tableName = tableName;
        this.eventTimeField = eventTimeField;
        this.producedType = physicalType;
    }

    /** The ROW type of the given physical columns, in the given order. */
    public static DataType project(DataType row, int[] positions) {
        List<String> names = DataType.getFieldNames(row);
        List<DataType> types = DataType.getFieldDataTypes(row);
        DataTypes.Field[] fields = new DataTypes.Field[positions.length];
        for (int i = 0; i < positions.length; i++) {
            fields[i] = DataTypes.FIELD(names.get(positions[i]), types.get(positions[i]));
        }
        return DataTypes.ROW(fields).notNull();
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return ChangelogMode.insertOnly();
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        DeserializationSchema<RowData> keyDecoder = keyFormat == null ? null
                : keyFormat.createRuntimeDecoder(context, project(physicalType, keyProjection));
        DeserializationSchema<RowData> valueDecoder =
                valueFormat.createRuntimeDecoder(context, project(physicalType, valueProjection));
        List<LogicalType> physicalTypes = new ArrayList<>();
        DataType.getFieldDataTypes(physicalType).forEach(t -> physicalTypes.add(t.getLogicalType()));
        RowLayout layout = new RowLayout(physicalTypes.size(), keyProjection, valueProjection, physicalTypes, metadataKeys);
        TypeInformation<RowData> typeInfo = context.createTypeInformation(producedType);
        CxKafkaSource source = new CxKafkaSource(topics, properties, startupMode, startupTimestampMillis,
                specificOffsets, bounded, discoveryIntervalMs, layout, keyDecoder, valueDecoder, dlqTopic,
                dlqJobName, typeInfo, eventTimeField);
        WatermarkStrategy<RowData> watermarks =
                watermarkStrategy != null ? watermarkStrategy : WatermarkStrategy.noWatermarks();
        String name = "cx-kafka " + tableName + " " + String.join(";", topics);
        return new DataStreamScanProvider() {
            @Override
            public DataStream<RowData> produceDataStream(ProviderContext providerContext, StreamExecutionEnvironment env) {
                DataStreamSource<RowData> stream = env.fromSource(source, watermarks, name, typeInfo);
                // A stable uid keeps the source's state (its offsets) mapped across job upgrades.
                providerContext.generateUid("cx-kafka-source").ifPresent(stream::uid);
                return stream;
            }

            @Override
            public boolean isBounded() {
                return bounded;
            }
        };
    }

    @Override
    public Map<String, DataType> listReadableMetadata() {
        return ReadableMetadata.all();
    }

    @Override
    public void applyReadableMetadata(List<String> metadataKeys, DataType producedDataType) {
        this.metadataKeys = List.copyOf(metadataKeys);
        this.producedType = producedDataType;
    }

    @Override
    public void applyWatermark(WatermarkStrategy<RowData> watermarkStrategy) {
        this.watermarkStrategy = watermarkStrategy;
    }

    @Override
    public DynamicTableSource copy() {
        CxKafkaTableSource copy = new CxKafkaTableSource(physicalType, keyFormat, valueFormat, keyProjection,
                valueProjection, topics, properties, startupMode, startupTimestampMillis, specificOffsets, bounded,
                discoveryIntervalMs, dlqTopic, dlqJobName, tableName, eventTimeField);
        copy.metadataKeys = metadataKeys;
        copy.producedType = producedType;
        copy.watermarkStrategy = watermarkStrategy;
        return copy;
    }

    @Override
    public String asSummaryString() {
        return "cx-kafka";
    }
}
