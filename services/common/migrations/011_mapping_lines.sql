-- Tracking per line as well as per record: by catalog item or product class
-- (e.g. a "Service Line" category), beside location and department.
alter table tracking_mappings drop constraint if exists tracking_mappings_source_kind_check;
alter table tracking_mappings add constraint tracking_mappings_source_kind_check
    check (source_kind in ('location','department','catalog_item','product_class'));
