package io.cxstream.connector.avro;

import java.util.Set;

import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/**
 * {@code 'format' = 'cx-avro'}: plain Avro binary without any header (no magic byte, no schema
 * registry id), written and read with one schema given inline by {@code cx-avro.schema} (the .avsc
 * JSON). Columns are matched to Avro fields by name. Without a schema (meant for keys), one is
 * derived from the columns: see {@link KeySchemas}.
 */
public class CxAvroFormatFactory implements DeserializationFormatFactory, SerializationFormatFactory {

    public static final String IDENTIFIER = "cx-avro";

    public static final ConfigOption<String> SCHEMA = ConfigOptions.key("schema").stringType().noDefaultValue()
            .withDescription("The Avro schema (.avsc JSON text) the records are written with.");

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of();
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(SCHEMA);
    }

    private static String schemaFor(ReadableConfig options, DataType physical) {
        RowType rowType = (RowType) physical.getLogicalType();
        Schema schema;
        String given = options.getOptional(SCHEMA).orElse(null);
        if (given == null || given.isBlank()) {
            schema = KeySchemas.derive(rowType);
        } else {
            try {
                schema = new Schema.Parser().parse(given);
            } catch (SchemaParseException e) {
                throw new ValidationException("cx-avro: 'schema' is not a valid Avro schema: " + e.getMessage(), e);
            }
        }
        return schema.toString();
    }

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        return new DecodingFormat<>() {
            @Override
            public DeserializationSchema<RowData> createRuntimeDecoder(DynamicTableSource.Context ctx, DataType physical) {
                String schema = schemaFor(formatOptions, physical);
                RowType rowType = (RowType) physical.getLogicalType();
                // Built once here so that a mismatch fails at planning, with the column's name.
                new AvroRowCodec(new Schema.Parser().parse(schema), rowType, true, false);
                TypeInformation<RowData> type = ctx.createTypeInformation(physical);
                return new AvroRowDeserializationSchema(schema, rowType, type);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }

    @Override
    public EncodingFormat<SerializationSchema<RowData>> createEncodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        return new EncodingFormat<>() {
            @Override
            public SerializationSchema<RowData> createRuntimeEncoder(DynamicTableSink.Context ctx, DataType physical) {
                String schema = schemaFor(formatOptions, physical);
                RowType rowType = (RowType) physical.getLogicalType();
                new AvroRowCodec(new Schema.Parser().parse(schema), rowType, false, true);
                return new AvroRowSerializationSchema(schema, rowType);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }
}
