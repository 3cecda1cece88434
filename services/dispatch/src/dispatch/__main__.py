from dispatch.bootstrap import create_app
from dispatch.settings import get_settings
from govmesh_runtime.serve import serve

serve(create_app, get_settings())
