//! How each ServiceTracker field type is represented in Arrow and Parquet,
//! and column builders that take already-typed values.
//!
//! Timestamps are microseconds in UTC (`Timestamp(Microsecond, "UTC")`, read
//! by DuckDB as `TIMESTAMP WITH TIME ZONE`), decimals are Decimal128 with
//! the field's precision and scale, and everything that is an identifier or
//! a code (ids, phone numbers, postal codes) is Utf8.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, TimeUnit};

use crate::source::schema::FieldType;

pub fn data_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Text => DataType::Utf8,
        FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        FieldType::Date => DataType::Date32,
        FieldType::Boolean => DataType::Boolean,
        FieldType::Integer => DataType::Int64,
        FieldType::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
        FieldType::Double => DataType::Float64,
    }
}

pub fn arrow_field(name: &str, ty: FieldType) -> Field {
    Field::new(name, data_type(ty), true)
}

/// One value after typing; text borrows from the record being read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Text(&'a str),
    Timestamp(i64),
    Date(i32),
    Boolean(bool),
    Integer(i64),
    Decimal(i128),
    Double(f64),
}

/// An Arrow builder for one column of a given [`FieldType`].
pub enum ColumnBuilder {
    Text(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Boolean(BooleanBuilder),
    Integer(Int64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Double(Float64Builder),
}

impl ColumnBuilder {
    pub fn new(ty: FieldType, capacity: usize) -> Self {
        match ty {
            FieldType::Text => {
                ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            FieldType::Timestamp => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            FieldType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            FieldType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            FieldType::Integer => ColumnBuilder::Integer(Int64Builder::with_capacity(capacity)),
            FieldType::Decimal { precision, scale } => {
                ColumnBuilder::Decimal(Decimal128Builder::with_capacity(capacity), precision, scale)
            }
            FieldType::Double => ColumnBuilder::Double(Float64Builder::with_capacity(capacity)),
        }
    }

    /// Appends a value of this column's type (or null).
    ///
    /// # Panics
    /// When the value's variant does not match the column: values are typed
    /// by the same [`FieldType`] the builder was made for, so a mismatch is a
    /// bug in ferry, never bad input.
    pub fn append(&mut self, value: Value<'_>) {
        match (self, value) {
            (ColumnBuilder::Text(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Text(b), Value::Text(s)) => b.append_value(s),
            (ColumnBuilder::Timestamp(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Timestamp(b), Value::Timestamp(v)) => b.append_value(v),
            (ColumnBuilder::Date(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Date(b), Value::Date(v)) => b.append_value(v),
            (ColumnBuilder::Boolean(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Boolean(b), Value::Boolean(v)) => b.append_value(v),
            (ColumnBuilder::Integer(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Integer(b), Value::Integer(v)) => b.append_value(v),
            (ColumnBuilder::Decimal(b, _, _), Value::Null) => b.append_null(),
            (ColumnBuilder::Decimal(b, _, _), Value::Decimal(v)) => b.append_value(v),
            (ColumnBuilder::Double(b), Value::Null) => b.append_null(),
            (ColumnBuilder::Double(b), Value::Double(v)) => b.append_value(v),
            (_, value) => panic!("value {value:?} does not match its column type"),
        }
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Integer(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b, precision, scale) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*precision, *scale)
                    .expect("precision and scale were validated by the field type"),
            ),
            ColumnBuilder::Double(b) => Arc::new(b.finish()),
        }
    }
}
